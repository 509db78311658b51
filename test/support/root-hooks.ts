/**
 * Mocha root hooks: when the run ends, delete the per-host queues the tests'
 * workers declared (oslo's topic queues outlive their server on purpose, and
 * dead-letter queues are durable), so runs don't pile them up on the broker.
 */
import * as amqp from 'amqplib';
import { AMQP_URL, testHosts } from './worker';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (testHosts.size === 0) return;
    const conn = await amqp.connect(AMQP_URL.replace(/^amqp(s?)10:\/\//, 'amqp$1://')).catch(() => undefined);
    if (!conn) return;
    conn.on('error', () => undefined);
    try {
      for (const host of testHosts) {
        for (const q of [`compute.${host}`, `hostwall.dead.${host}`]) {
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          await ch.deleteQueue(q).catch(() => undefined);
          await ch.close().catch(() => undefined);
        }
      }
    } finally {
      await conn.close().catch(() => undefined);
    }
  },
};
