/**
 * One host's native events through a quorum queue of the test's own, so that
 * none is lost while the broker restarts: the collector reconnects by itself
 * and resumes. A delivery the broker flags `redelivered` (its ack was lost
 * with the connection) is dropped if the very same body was already seen, so
 * the log counts publications by the worker, not deliveries to the test.
 */
import * as amqp from 'amqplib';
import { parseEvent } from '../../../src/events/schemas';
import { EventLog } from './bus';

export class DurableEventLog extends EventLog {
  private conn: amqp.ChannelModel | undefined;
  private closed = false;
  private readonly seen = new Set<string>();
  private readonly queue: string;

  private constructor(
    private readonly url: string,
    private readonly host: string,
  ) {
    super();
    this.queue = `hw-fault-events-${host}`;
  }

  static async open(url: string, host: string): Promise<DurableEventLog> {
    const log = new DurableEventLog(url, host);
    await log.attach();
    return log;
  }

  private async attach(): Promise<void> {
    const conn = await amqp.connect(this.url);
    conn.on('error', () => undefined);
    conn.once('close', () => {
      if (!this.closed) void this.reattach();
    });
    const ch = await conn.createChannel();
    await ch.assertExchange('hostwall.events', 'topic', { durable: true });
    await ch.assertQueue(this.queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue(this.queue, 'hostwall.events', `${this.host}.#`);
    await ch.prefetch(500);
    await ch.consume(this.queue, (m) => {
      if (!m) return;
      const text = m.content.toString('utf8');
      if (!(m.fields.redelivered && this.seen.has(text))) {
        this.seen.add(text);
        this.push(parseEvent(JSON.parse(text)));
      }
      ch.ack(m);
    });
    this.conn = conn;
  }

  private async reattach(): Promise<void> {
    while (!this.closed) {
      await new Promise((r) => setTimeout(r, 300));
      try {
        await this.attach();
        return;
      } catch {
        // broker still down
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    if (!conn) return;
    const ch = await conn.createChannel().catch(() => undefined);
    await ch?.deleteQueue(this.queue).catch(() => undefined);
    await conn.close().catch(() => undefined);
  }
}
