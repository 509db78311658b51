/**
 * A real worker for tests: real broker (AMQP_URL), real libvirt test driver,
 * on a host name of its own so tests never see each other's messages.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config';
import type { LibvirtDriverOptions } from '../../src/drivers/libvirt/driver';
import { openConfiguredDriver } from '../../src/drivers/libvirt/options';
import { createLogger } from '../../src/log';
import type { Transport } from '../../src/transport/transport';
import { openTransport } from '../../src/worker/connect';
import { Worker } from '../../src/worker/worker';

import { AMQP_URL } from './broker';

export { AMQP_URL };

/** Hosts the tests made up; their queues are deleted when the run ends (root-hooks.ts). */
export const testHosts = new Set<string>();

/** Over 2 KiB of instance metadata within Nova's bounds (128 items, values of 255): 20 items of 200 characters (an oversize message for a small --max-message-bytes). */
export function bigMetadata(): Record<string, string> {
  return Object.fromEntries(Array.from({ length: 20 }, (_, n) => [`note${n}`, 'x'.repeat(200)]));
}

export function uniqueHost(prefix = 'test'): string {
  const host = `${prefix}-${randomBytes(4).toString('hex')}`;
  testHosts.add(host);
  return host;
}

export function uuid(): string {
  return crypto.randomUUID();
}

/** `driver`: options of the libvirt driver that the config does not carry (e.g. deviceDetachTimeoutMs). */
export async function startWorker(overrides: Partial<Config> = {}, driver: Partial<LibvirtDriverOptions> = {}): Promise<{ worker: Worker; config: Config }> {
  const config = {
    ...loadConfig({ env: {}, flags: { amqpUrl: AMQP_URL, host: uniqueHost(), logLevel: process.env.TEST_LOG_LEVEL ?? 'error', logFormat: 'json', instancesPath: join(tmpdir(), 'hostwall-test-instances'), statePath: join(tmpdir(), 'hostwall-test-state') } }),
    ...overrides,
  };
  const log = createLogger({ level: config.logLevel, format: 'json' });
  const opened = await openConfiguredDriver(config, log, driver);
  const transport = openTransport(config, { connectionName: `hostwall-test-worker:${config.host}` });
  const worker = new Worker({ config, log, transport, driver: opened });
  await worker.start();
  return { worker, config };
}

export async function connectTransport(name = 'test-client'): Promise<Transport> {
  // AMQP_URL=amqp10://... runs the same tests over AMQP 1.0 (the suite is parameterised by it).
  const t = openTransport(loadConfig({ env: {}, flags: { amqpUrl: AMQP_URL } }), { connectionName: name });
  await t.start();
  return t;
}
