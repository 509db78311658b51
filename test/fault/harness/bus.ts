/**
 * The test's own side of the broker, on amqplib directly (so a test can send
 * anything, including what hostwall's client refuses to send): raw publishes
 * to a host's queue, oslo-enveloped intents, an event log of one host's
 * native events, and reading a host's dead-letter queue.
 */
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { parseEvent, type HostwallEvent } from '../../../src/events/schemas';
import { envelopeJson } from '../../../src/oslo/envelope';
import { encodeRpcRequest } from '../../../src/oslo/rpc-request';
import { deadLetterQueueName } from '../../../src/oslo/wire/oslo-wire';
import { Seen } from '../../support/seen';

export interface RawPublish {
  exchange?: string;
  routingKey: string;
  body: Buffer;
  properties?: amqp.Options.Publish;
}

export interface DeadLetter {
  headers: Record<string, unknown>;
  body: Buffer;
}

export class EventLog {
  private readonly arrived = new Seen<HostwallEvent>();
  /** When each of `events` arrived (Date.now()), same index. */
  readonly arrivals: number[] = [];
  /** Bodies the worker published that its own event schemas refuse (a defect: hostile tests assert none). */
  readonly invalid: { body: string; error: string }[] = [];

  get events(): HostwallEvent[] {
    return this.arrived.items;
  }

  push(e: HostwallEvent): void {
    this.arrived.push(e);
    this.arrivals.push(Date.now());
  }

  /** The first event (already seen or still to come) that matches. */
  waitFor(pred: (e: HostwallEvent) => boolean, timeoutMs = 15_000, what = 'event'): Promise<HostwallEvent> {
    return this.arrived.waitFor(pred, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Resolves when `count()` reaches `n` (asked every 50 ms: a count may depend on more than this log). */
  async until(count: () => number, n: number, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (count() < n) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${count()} of ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  outcomesOf(intentId: string): HostwallEvent[] {
    return this.events.filter((e) => (e.event === 'intent.succeeded' || e.event === 'intent.failed') && e.intent_id === intentId);
  }
}

export class TestBus {
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.ConfirmChannel,
  ) {}

  static async connect(url: string): Promise<TestBus> {
    const conn = await amqp.connect(url);
    conn.on('error', () => undefined);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    return new TestBus(conn, ch);
  }

  /** Every native event of `host`, from now on. */
  async eventLog(host: string): Promise<EventLog> {
    const log = new EventLog();
    const ch = await this.conn.createChannel();
    await ch.assertExchange('hostwall.events', 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(q.queue, 'hostwall.events', `${host}.#`);
    await ch.consume(q.queue, (m) => {
      if (!m) return;
      const text = m.content.toString('utf8');
      let event: HostwallEvent;
      try {
        event = parseEvent(JSON.parse(text));
      } catch (err) {
        log.invalid.push({ body: text.slice(0, 2000), error: String(err).slice(0, 2000) });
        return;
      }
      log.push(event);
    }, { noAck: true });
    return log;
  }

  async publish(p: RawPublish): Promise<void> {
    this.ch.publish(p.exchange ?? 'nova', p.routingKey, p.body, { deliveryMode: 2, ...(p.properties ?? {}) });
    await this.ch.waitForConfirms();
  }

  /** An intent as oslo would cast it, with the body returned (for signing or replaying it). */
  intentBody(kind: string, args: Record<string, unknown>, o: { uniqueId?: string; context?: Record<string, unknown>; version?: string } = {}): { body: Buffer; uniqueId: string } {
    const enc = encodeRpcRequest({ method: kind, args, namespace: 'hostwall', version: o.version ?? '1.0', context: o.context ?? {}, ...(o.uniqueId ? { uniqueId: o.uniqueId } : {}) });
    return { body: Buffer.from(envelopeJson(enc.message), 'utf8'), uniqueId: enc.uniqueId };
  }

  async cast(host: string, kind: string, args: Record<string, unknown>, o: { uniqueId?: string; headers?: Record<string, unknown>; context?: Record<string, unknown> } = {}): Promise<string> {
    const { body, uniqueId } = this.intentBody(kind, args, o);
    await this.publish({ routingKey: `compute.${host}`, body, properties: { contentType: 'application/json', contentEncoding: 'utf-8', headers: o.headers ?? {} } });
    return uniqueId;
  }

  /**
   * Resolves once the host has published all it will about `instanceUuid`
   * for the messages sent so far: a harmless intent (the detach of a volume
   * never attached: it fails DEVICE_NOT_FOUND and changes nothing) goes to
   * the host's queue behind them, redeliveries included, and into the
   * instance's lane behind theirs, so its outcome comes after anything they
   * cause. What a test would otherwise wait a fixed time for ("nothing more
   * must come") is then known to have come or never to come.
   */
  async settled(host: string, log: EventLog, instanceUuid: string): Promise<void> {
    const marker = await this.cast(host, 'volume.detach', { instance_uuid: instanceUuid, volume_id: `marker-${randomUUID()}` });
    await log.waitFor((e) => e.intent_id === marker && (e.event === 'intent.succeeded' || e.event === 'intent.failed'), 15_000, 'the marker intent\'s outcome');
  }

  /** Wait until the host's dead-letter queue holds `n` messages, then take them all. */
  async deadLetters(host: string, n: number, timeoutMs = 10_000): Promise<DeadLetter[]> {
    const ch = await this.conn.createChannel();
    const out: DeadLetter[] = [];
    const deadline = Date.now() + timeoutMs;
    try {
      while (out.length < n && Date.now() < deadline) {
        const m = await ch.get(deadLetterQueueName(host), { noAck: true });
        if (m === false) await new Promise((r) => setTimeout(r, 50));
        else out.push({ headers: m.properties.headers ?? {}, body: m.content });
      }
    } finally {
      await ch.close();
    }
    return out;
  }

  /** A channel of the test's own connection (errors ignored: a 404 closes it); the caller closes it. */
  async channel(): Promise<amqp.Channel> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    return ch;
  }

  /** Messages ready in a queue (not counting unacked). */
  async ready(queue: string): Promise<number> {
    const ch = await this.conn.createChannel();
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } finally {
      await ch.close();
    }
  }

  /** Consumers on a queue (0 if it does not exist yet). */
  async consumers(queue: string): Promise<number> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    try {
      return (await ch.checkQueue(queue)).consumerCount;
    } catch {
      return 0;
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  /** Delete a test host's own queues (never anyone else's). */
  async removeHost(host: string): Promise<void> {
    for (const q of [`compute.${host}`, deadLetterQueueName(host)]) {
      // A channel per delete: a 404 closes the channel it happens on.
      const ch = await this.conn.createChannel();
      ch.on('error', () => undefined);
      await ch.deleteQueue(q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}
