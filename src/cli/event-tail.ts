/**
 * Subscribe to one host's native events on an exclusive queue, print each as
 * one readable line, and let a caller await a particular one.
 */
import { randomUUID } from 'node:crypto';
import { EVENTS_EXCHANGE, HostwallEvent } from '../events/schemas';
import { printable } from '../limits/terminal-text';
import { ackOnReceipt, type Transport } from '../transport/transport';

type Waiter = { match: (e: HostwallEvent) => boolean; resolve: (e: HostwallEvent | undefined) => void };

/** One event as a line for a terminal: fields from messages are escaped (limits/terminal-text.ts). */
export function eventLine(e: HostwallEvent): string {
  const parts: string[] = [e.at, e.host, e.event];
  if ('kind' in e && e.kind) parts.push(e.kind);
  if ('instance_uuid' in e && e.instance_uuid) parts.push(e.instance_uuid.slice(0, 8));
  if ('power_state' in e && e.power_state) parts.push(`power=${e.power_state}`);
  if ('vm_state' in e && e.vm_state) parts.push(`vm=${e.vm_state}`);
  if ('replayed' in e && e.replayed) parts.push('replayed');
  if ('redelivered' in e && e.redelivered) parts.push('redelivered');
  if ('error' in e && e.error) parts.push(`${e.error.code}: ${e.error.message}`);
  return printable(parts.join(' '));
}

export class EventTail {
  readonly seen: HostwallEvent[] = [];
  private waiters: Waiter[] = [];
  private constructor() {}

  static async open(transport: Transport, host: string, print: (line: string) => void): Promise<EventTail> {
    const queue = `hostwall.tail.${randomUUID()}`;
    await transport.declare({
      exchanges: [{ name: EVENTS_EXCHANGE, type: 'topic', durable: true, autoDelete: false, arguments: {} }],
      queues: [{ name: queue, durable: false, autoDelete: true, exclusive: true, arguments: {} }],
      bindings: [{ queue, exchange: EVENTS_EXCHANGE, routingKey: `${host}.#` }],
    });
    const tail = new EventTail();
    await transport.consume([queue], { prefetch: 200 }, ackOnReceipt((m) => {
      let body: unknown;
      try {
        body = JSON.parse(m.body.toString('utf8'));
      } catch {
        return;
      }
      const parsed = HostwallEvent.safeParse(body);
      if (!parsed.success) return;
      const e = parsed.data;
      tail.seen.push(e);
      print(eventLine(e));
      tail.waiters = tail.waiters.filter((w) => {
        if (!w.match(e)) return true;
        w.resolve(e);
        return false;
      });
    }));
    return tail;
  }

  /** The first event (already seen or still to come) that matches, or undefined after `timeoutMs`. */
  waitFor(match: (e: HostwallEvent) => boolean, timeoutMs = 30_000): Promise<HostwallEvent | undefined> {
    const already = this.seen.find(match);
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => {
      const w: Waiter = { match, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(undefined);
      }, timeoutMs).unref();
    });
  }

  /** Stop waiting; the exclusive queue goes with the connection. */
  async close(): Promise<void> {
    for (const w of this.waiters) w.resolve(undefined);
    this.waiters = [];
  }
}
