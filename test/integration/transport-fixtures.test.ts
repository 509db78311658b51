/**
 * Shared helpers of the transport integration tests (no tests here: the file
 * is named like a test only because test/integration/transport-* is where
 * transport test code lives).
 */
import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { type Amqp091Transport, createAmqp091Transport, type TransportLog } from '../../src/transport/amqp091';
import type { InboundMessage, OutboundMessage, Settlement, Topology } from '../../src/transport/transport';
import { type Delivery, held } from './conformance/inbox';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const uid = (): string => randomBytes(4).toString('hex');

/** Deliveries in arrival order; next() awaits the next one (no polling, no sleeps). */
export class Inbox {
  private items: Delivery[] = [];
  private waiters: ((m: Delivery) => void)[] = [];
  /** The handler: each delivery waits in the inbox until the test settles it. */
  readonly push = (m: InboundMessage): Promise<Settlement> => {
    const { delivery, answer } = held(m);
    const w = this.waiters.shift();
    if (w) w(delivery);
    else this.items.push(delivery);
    return answer;
  };
  next(timeoutMs = 5000): Promise<Delivery> {
    const m = this.items.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no delivery within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
}

/** Transport log lines, awaitable: recovery is observed through what the transport says it did. */
export class LogTap {
  readonly lines: { level: string; msg: string; meta: Record<string, unknown> | undefined }[] = [];
  private waiters: { pred: (msg: string) => boolean; resolve: () => void }[] = [];
  readonly log: TransportLog = (level, msg, meta) => {
    this.lines.push({ level, msg, meta });
    for (const w of [...this.waiters]) {
      if (w.pred(msg)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  /** Resolves on the next line matching `pred` logged from now on. */
  next(pred: (msg: string) => boolean, timeoutMs = 15000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`log line not seen within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ pred, resolve: () => { clearTimeout(t); resolve(); } });
    });
  }
}

export function transportFor(url: string, tap: LogTap): Amqp091Transport {
  return createAmqp091Transport({
    url, log: tap.log, heartbeatS: 10, operationTimeoutMs: 5000, confirmTimeoutMs: 5000, reconnectMinMs: 100, reconnectMaxMs: 1000,
  });
}

export function json(exchange: string, routingKey: string, body: unknown, extra: Partial<OutboundMessage> = {}): OutboundMessage {
  return { exchange, routingKey, body: Buffer.from(JSON.stringify(body)), contentType: 'application/json', ...extra };
}

export function queueTopology(name: string, opts: { exchange?: string; autoDelete?: boolean } = {}): Topology {
  const { exchange } = opts;
  return {
    exchanges: exchange ? [{ name: exchange, type: 'topic', durable: false, autoDelete: false }] : [],
    queues: [{ name, durable: false, autoDelete: opts.autoDelete ?? false, exclusive: false }],
    bindings: exchange ? [{ queue: name, exchange, routingKey: name }] : [],
  };
}

/** A plain amqplib connection to look at and clean up the broker independently of the transport. */
export class Admin {
  private constructor(private readonly conn: amqp.ChannelModel) {}
  static async open(url: string): Promise<Admin> {
    const conn = await amqp.connect(url);
    conn.on('error', () => undefined);
    return new Admin(conn);
  }
  /** A throwaway channel per operation: a 404 must not poison the next one. */
  async with<T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T> {
    const ch = await this.conn.createChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }
  messageCount(queue: string): Promise<number> {
    return this.with(async (ch) => (await ch.checkQueue(queue)).messageCount);
  }
  async exists(queue: string): Promise<boolean> {
    return this.with((ch) => ch.checkQueue(queue)).then(() => true, () => false);
  }
  async remove(queues: string[], exchanges: string[] = []): Promise<void> {
    for (const q of queues) await this.with((ch) => ch.deleteQueue(q)).catch(() => undefined);
    for (const x of exchanges) await this.with((ch) => ch.deleteExchange(x)).catch(() => undefined);
  }
  close(): Promise<void> {
    return this.conn.close().catch(() => undefined);
  }
}
