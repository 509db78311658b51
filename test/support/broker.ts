/**
 * The tests' side of the shared broker: where it is, names no other test
 * uses, a plain amqplib connection that looks at queues independently of
 * the transport under test, and rabbitmqctl for what AMQP cannot do
 * (vhosts of a test's own, closing connections on purpose).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';
import { eventually } from './eventually';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The same broker over AMQP 0-9-1, also when the suite runs with an amqp10:// URL (amqplib speaks only 0-9-1). */
export const AMQP091_URL = AMQP_URL.replace(/^amqp(s?)10:\/\//, 'amqp$1://');

export const uid = (): string => randomBytes(4).toString('hex');

/** A plain amqplib connection to look at and clean up the broker independently of the transport. */
export class Admin {
  private constructor(private readonly conn: amqp.ChannelModel) {}
  static async open(url: string = AMQP091_URL): Promise<Admin> {
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

/** `fn` on a channel of a connection of its own, both closed afterwards. */
export async function withChannel<T>(fn: (ch: amqp.Channel) => Promise<T>, url: string = AMQP091_URL): Promise<T> {
  const admin = await Admin.open(url);
  try {
    return await admin.with(fn);
  } finally {
    await admin.close();
  }
}

/** How many messages wait in `queue` (ready, not delivered). */
export function queueDepth(queue: string, url: string = AMQP091_URL): Promise<number> {
  return withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount, url);
}

/**
 * The depth of `queue` once it holds at least `n` (no event says "a message
 * landed in that queue": the broker is asked again until it does).
 */
export function depthReaches(queue: string, n: number, url: string = AMQP091_URL): Promise<number> {
  return eventually(`${queue} holding ${n} messages`, () => queueDepth(queue, url), (depth) => depth >= n);
}

const run = promisify(execFile);

/** Where Debian's rabbitmqctl is; undefined where the broker is not local (tests that need it skip). */
export const RABBITMQCTL = ['/usr/sbin/rabbitmqctl', '/usr/lib/rabbitmq/bin/rabbitmqctl'].find((p) => existsSync(p));

/** Runs rabbitmqctl -q with `args`; resolves with what it printed. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  if (!RABBITMQCTL) throw new Error('rabbitmqctl not found (scripts/setup.sh installs rabbitmq-server)');
  return (await run(RABBITMQCTL, ['-q', ...args], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 })).stdout;
}

export function urlWithVhost(base: string, vhost: string): string {
  const u = new URL(base);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}

/** A vhost of the test's own with guest allowed in; resolves with AMQP_URL pointed at it. */
export async function addVhost(vhost: string, base: string = AMQP_URL): Promise<string> {
  await rabbitmqctl('add_vhost', vhost);
  await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  return urlWithVhost(base, vhost);
}

export async function deleteVhost(vhost: string): Promise<void> {
  await rabbitmqctl('delete_vhost', vhost).catch(() => undefined);
}
