/**
 * Shared helpers of the transport integration tests (no tests here: the file
 * is named like a test only because test/integration/transport-* is where
 * transport test code lives). The broker's side (URL, Admin, vhosts) is in
 * test/support/broker.ts, deliveries in test/support/inbox.ts.
 */
import { type Amqp091Transport, createAmqp091Transport, type TransportLog } from '../../src/transport/amqp091';
import type { OutboundMessage, Topology } from '../../src/transport/transport';

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
