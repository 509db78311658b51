/**
 * Which broker host to try next, and what to say about the ones that failed:
 * shared by both transports' reconnect loops.
 *
 * As kombu does for oslo (kombu_failover_strategy): the hosts are tried one
 * after the other without a pause; only after a whole round failed does the
 * loop back off. After a connection is lost, the NEXT host is tried first
 * (round-robin), so a broker that went down is not hammered while another
 * one answers. `shuffle` picks any other host at random instead.
 */

import { ConfigError, InvariantError } from '../errors';

export type FailoverStrategy = 'round-robin' | 'shuffle';

export class HostRotation<H> {
  private index = 0;

  constructor(
    readonly hosts: readonly H[],
    private readonly strategy: FailoverStrategy = 'round-robin',
    private readonly random: () => number = Math.random,
  ) {
    if (hosts.length === 0) throw new ConfigError('HostRotation needs at least one host');
  }

  get current(): H {
    const h = this.hosts[this.index];
    if (h === undefined) throw new InvariantError('HostRotation index out of range');
    return h;
  }

  /** A round is one try of each host (by count, as kombu counts a cycle). */
  get roundLength(): number {
    return this.hosts.length;
  }

  advance(): void {
    const n = this.hosts.length;
    if (n <= 1) return;
    if (this.strategy === 'round-robin') {
      this.index = (this.index + 1) % n;
      return;
    }
    const step = 1 + Math.floor(this.random() * (n - 1));
    this.index = (this.index + step) % n;
  }
}

/**
 * The reason each host last failed with. A long-running worker logs a host's
 * failure once per reason (at warn), and the repeats at debug, so a broker
 * that stays down for an hour leaves one clear line per host, not hundreds;
 * a change of reason, or a failure after the host had connected, is logged again.
 */
export class HostFailures {
  private readonly last = new Map<string, string>();

  /** Record a failure; true when it is news (first for this host, or a new reason). */
  note(host: string, reason: string): boolean {
    const news = this.last.get(host) !== reason;
    this.last.set(host, reason);
    return news;
  }

  connected(host: string): void {
    this.last.delete(host);
  }

  /**
   * The end of "cannot connect to …": `<url>: <reason>` for one host,
   * `any host of <url>: h1:5672: <reason>; h2:5672: <reason>` for several;
   * `fallback` when no attempt finished (e.g. the first one is still waiting).
   */
  explain(safeUrl: string, hosts: readonly string[], fallback: string): string {
    const only = hosts.length === 1 ? hosts[0] : undefined;
    if (only !== undefined) return `${safeUrl}: ${this.last.get(only) ?? fallback}`;
    if (!hosts.some((h) => this.last.has(h))) return `any host of ${safeUrl}: ${fallback}`;
    return `any host of ${safeUrl}: ${hosts.map((h) => `${h}: ${this.last.get(h) ?? 'not tried yet'}`).join('; ')}`;
  }
}
