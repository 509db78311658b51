/**
 * One broker connection kept alive, whatever the protocol: connect to the
 * first host of the URL that answers, and after any loss reconnect (to the
 * next host first, as oslo fails over) with exponential backoff and jitter
 * until close(). Both transports extend it; what differs per protocol (how
 * one connection to one host is opened, watched, dropped and closed, and what
 * the logs and errors call it) is left to the abstract members below.
 *
 * States: idle → connecting → up → (lost) connecting → … → closed. `closed`
 * is final: the reconnect loop stops and pending waiters are rejected.
 */
import { TransportError } from '../errors';
import type { TransportLog } from './common-options';
import { describeConnectError } from './connect-errors';
import { type FailoverStrategy, HostFailures, HostRotation } from './failover';
import { backoffDelayMs, errorText, Sleeper, withTimeout } from './timing';

export type ConnectionState = 'idle' | 'connecting' | 'up' | 'closed';

/** One host of the URL, as the loop sees it. */
export interface KeptHost {
  /** That host alone as a URL, password hidden: what logs name. */
  label: string;
  /** `host:port`. */
  address: string;
}

/** What the loop needs of a transport's compiled options. */
export interface KeptOptions<H extends KeptHost> {
  /** In failover order. */
  hosts: readonly H[];
  failover: FailoverStrategy;
  /** The URL's warnings, logged once at start(). */
  warnings: readonly string[];
  /** For describeConnectError's "vhost … refused" wording. */
  vhost: string;
  safeUrl: string;
  log: TransportLog;
  failFast: boolean;
  startTimeoutMs: number;
  operationTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** One connection just opened, with how to follow it. */
export interface Opened<L> {
  readonly live: L;
  /** Resolves (with the reason) when this connection is gone for good. */
  readonly lost: Promise<string>;
  isOpen(): boolean;
}

export abstract class KeptConnection<L, H extends KeptHost> {
  private state: ConnectionState = 'idle';
  private live: L | undefined;
  private waiters: { resolve: (l: L) => void; reject: (e: Error) => void }[] = [];
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;
  private readonly rotation: HostRotation<H>;
  /** Why each host last failed, for the logs and start()'s error (a timeout alone tells an operator nothing). */
  private readonly failures = new HostFailures();
  /**
   * Set while start() waits (cleared once it returns): a failFast start is
   * failed through it after one round, even if a host connected but its
   * setup (onUp) failed.
   */
  private failStart: ((err: Error) => void) | undefined;
  /** The host of the live (or last) connection, password hidden. */
  connectedTo: string | undefined;
  /** Connections made so far; lets tests and logs tell a reconnect happened. */
  generation = 0;

  /** The start of the log lines ('amqp connection up', 'amqp10 connect failed'…). */
  protected abstract readonly logPrefix: string;
  /** What whenUp's timeout says it waited for. */
  protected abstract readonly waitedFor: string;

  constructor(private readonly kept: KeptOptions<H>) {
    this.rotation = new HostRotation(kept.hosts, kept.failover);
  }

  /** One connection to one host, handshake included, bounded by the protocol's connect timeout. `generation` is the number it will have. */
  protected abstract open(host: H, generation: number): Promise<Opened<L>>;
  /** The new connection's "up" line, with what the protocol adds to it. */
  protected abstract logUp(host: H, live: L): void;
  /** Sets up what lives on a new connection; runs before the state goes 'up'. */
  protected abstract onUp(live: L): Promise<void>;
  /** A connection that opened after close() began. */
  protected abstract abandon(live: L): Promise<void>;
  /** A connection whose setup (onUp) failed: close it without waiting. */
  protected abstract discard(live: L, err: unknown): void;
  /** close() began: end the attempt in progress, if the protocol can. */
  protected abstract abortAttempt(): void;
  /** close(): close the live connection (if any), bounded. */
  protected abstract closeLive(live: L | undefined): Promise<void>;
  /** start()'s error message for `why` (from HostFailures.explain). */
  protected abstract cannotConnect(why: string): string;

  get current(): L | undefined {
    return this.state === 'up' ? this.live : undefined;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Start the loop; resolves once the first connection is up. Rejects after
   * startTimeoutMs, or with failFast as soon as every host failed once; the
   * error names each host's reason (ACCESS_REFUSED, connection refused…).
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new TransportError('transport already started');
    const failedRound = new Promise<never>((_, reject) => {
      this.failStart = reject;
    });
    failedRound.catch(() => undefined);
    for (const w of this.kept.warnings) this.kept.log('warn', w, { url: this.kept.safeUrl });
    this.loop = this.run();
    try {
      await Promise.race([this.whenUp(this.kept.startTimeoutMs), failedRound]);
    } catch (err) {
      await this.close();
      const why = this.failures.explain(this.kept.safeUrl, this.kept.hosts.map((h) => h.address), errorText(err));
      throw new TransportError(this.cannotConnect(why), { url: this.kept.safeUrl });
    } finally {
      this.failStart = undefined;
    }
  }

  /** The live connection, waiting up to `timeoutMs` for a reconnect if there is none right now. */
  whenUp(timeoutMs: number): Promise<L> {
    const live = this.current;
    if (live) return Promise.resolve(live);
    if (this.state === 'closed') return Promise.reject(new TransportError('transport is closed'));
    const waiting = new Promise<L>((resolve, reject) => this.waiters.push({ resolve, reject }));
    return withTimeout(waiting, timeoutMs, `waiting for ${this.waitedFor} (${this.kept.safeUrl})`);
  }

  /**
   * Connect to the current host, or the next ones in turn (HostRotation);
   * back off only after a whole round failed; after a loss, start the next
   * round at the next host.
   */
  private async run(): Promise<void> {
    let round = 0;
    while (this.state !== 'closed') {
      this.state = 'connecting';
      let opened: Opened<L> | undefined;
      for (let tries = 0; tries < this.rotation.roundLength && !opened && !this.isClosed; tries++) {
        opened = await this.tryHost(this.rotation.current, round);
        if (!opened) this.rotation.advance();
      }
      if (this.isClosed) return;
      if (opened) {
        round = 0;
        const reason = await opened.lost;
        this.live = undefined;
        if (this.isClosed) return;
        this.state = 'connecting';
        this.kept.log('warn', `${this.logPrefix} connection lost; reconnecting`, { url: this.connectedTo, error: reason });
        this.rotation.advance();
      } else if (this.failStart && this.kept.failFast) {
        this.failStart(new TransportError('every host failed'));
        return;
      }
      const delay = backoffDelayMs(round++, this.kept.reconnectMinMs, this.kept.reconnectMaxMs);
      if (!(await this.sleeper.sleep(delay))) return;
    }
  }

  /** One attempt on one host: the connection once it is set up, else undefined (reason logged). */
  private async tryHost(host: H, round: number): Promise<Opened<L> | undefined> {
    let opened: Opened<L> | undefined;
    try {
      opened = await this.open(host, this.generation + 1);
      if (this.isClosed) {
        await this.abandon(opened.live);
        return undefined;
      }
      this.live = opened.live;
      this.generation++;
      this.connectedTo = host.label;
      this.failures.connected(host.address);
      this.logUp(host, opened.live);
      // State goes 'up' only after onUp, so publishers and consumers that wait
      // for the connection find the topology declared again and their channels or links rebuilt.
      await this.onUp(opened.live);
      if (this.isClosed) return opened;
      if (!opened.isOpen()) throw new TransportError('connection closed while it was being set up');
      this.state = 'up';
      for (const w of this.waiters.splice(0)) w.resolve(opened.live);
      return opened;
    } catch (err) {
      if (this.isClosed) return undefined; // the attempt was ended by close()
      const reason = describeConnectError(err, this.kept.vhost);
      const news = this.failures.note(host.address, reason);
      this.kept.log(news ? 'warn' : 'debug', `${this.logPrefix} connect failed`, { url: host.label, error: reason, round });
      if (opened) this.discard(opened.live, err);
      this.live = undefined;
      return undefined;
    }
  }

  /** Stop reconnecting and close the connection (bounded by operationTimeoutMs). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.sleeper.cancel();
    this.abortAttempt();
    for (const w of this.waiters.splice(0)) w.reject(new TransportError('transport is closed'));
    const live = this.live;
    this.live = undefined;
    await this.closeLive(live);
    await withTimeout(this.loop ?? Promise.resolve(), this.kept.operationTimeoutMs, 'stopping the reconnect loop').catch(() => undefined);
  }
}
