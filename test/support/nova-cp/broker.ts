/**
 * The one broker chore of the harness: deleting a stopped compute host's
 * topic queue `compute.<host>` on the control plane's vhost. oslo.messaging
 * declares it without expiry (unlike its reply and fanout queues), so every
 * host a run made up would otherwise stay on the broker.
 */
import * as amqp from 'amqplib';
import { ControlPlaneError } from './errors';

const BROKER_TIMEOUT_MS = 10_000;

function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ControlPlaneError('HTTP_TIMEOUT', `${what}: no answer from the broker within ${BROKER_TIMEOUT_MS} ms`)), BROKER_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** `transportUrl` as oslo writes it (rabbit://user:pass@host:port/vhost). */
export async function deleteQueue(transportUrl: string, queue: string): Promise<void> {
  const url = transportUrl.replace(/^rabbit:\/\//, 'amqp://');
  const conn = await bounded(amqp.connect(url), `connecting to ${url.replace(/:[^:@/]*@/, ':***@')}`);
  conn.on('error', () => undefined);
  try {
    const ch = await bounded(conn.createChannel(), 'opening a channel');
    await bounded(ch.deleteQueue(queue), `deleting queue ${queue}`);
  } finally {
    await bounded(conn.close(), 'closing the connection').catch(() => undefined);
  }
}
