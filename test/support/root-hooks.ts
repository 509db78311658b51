/**
 * Mocha root hooks: when the run ends, delete the per-host queues the tests'
 * workers declared (oslo's topic queues outlive their server on purpose, and
 * dead-letter queues are durable), so runs don't pile them up on the broker.
 */
import * as amqp from 'amqplib';
import { AMQP091_URL } from './broker';
import { testHosts } from './worker';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    if (testHosts.size === 0) return;
    const conn = await amqp.connect(AMQP091_URL).catch(() => undefined);
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
