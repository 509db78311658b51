/**
 * A RabbitMQ vhost of a test's own on the shared broker: whatever the test
 * does there (queues, closed connections, revoked permissions) touches no
 * other test, and deleting the vhost removes everything it made.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { AMQP_URL } from './worker';

const run = promisify(execFile);
const CTL = ['/usr/sbin/rabbitmqctl', '/usr/lib/rabbitmq/bin/rabbitmqctl'].find((p) => existsSync(p));

export async function rabbitmqctl(...args: string[]): Promise<void> {
  if (!CTL) throw new Error('rabbitmqctl not found (scripts/setup.sh installs rabbitmq-server)');
  await run(CTL, ['-q', ...args], { timeout: 30_000 });
}

export interface TestVhost {
  name: string;
  /** AMQP_URL with this vhost. */
  url: string;
  /** Refuse (false) or allow (true) the guest user on it. */
  allowGuest(allowed: boolean): Promise<void>;
  /** Close every connection to it (the broker's "connection.close" to each client). */
  closeConnections(): Promise<void>;
  remove(): Promise<void>;
}

export async function createVhost(prefix: string): Promise<TestVhost> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await rabbitmqctl('add_vhost', name);
  const allowGuest = async (allowed: boolean) => {
    if (allowed) await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
    else await rabbitmqctl('clear_permissions', '-p', name, 'guest');
  };
  await allowGuest(true);
  const u = new URL(AMQP_URL.replace(/^amqp(s?)10:/, 'amqp$1:'));
  u.pathname = `/${encodeURIComponent(name)}`;
  return {
    name,
    url: u.toString(),
    allowGuest,
    closeConnections: () => rabbitmqctl('close_all_connections', '--vhost', name, 'hostwall test: connection closed on purpose'),
    remove: () => rabbitmqctl('delete_vhost', name).catch(() => undefined),
  };
}
