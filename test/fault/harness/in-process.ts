/**
 * An in-process worker for the reliability and recovery suites: real broker,
 * real libvirt test driver (optionally wrapped to delay, hang or fail a
 * call), its own host name and intent store, and a way to "crash" it
 * without a graceful stop (the connection drops, nothing more is settled,
 * nothing is recorded: what a kill -9 leaves behind, minus the process).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../../src/config';
import type { Driver } from '../../../src/drivers/driver';
import { openLibvirtDriver } from '../../../src/drivers/libvirt/driver';
import { createLogger } from '../../../src/log';
import { createAmqp091Transport } from '../../../src/transport/amqp091';
import type { Transport } from '../../../src/transport/transport';
import { Worker } from '../../../src/worker/worker';

import { AMQP_URL } from '../../support/broker';

export { AMQP_URL };

export interface HostWorker {
  worker: Worker;
  config: Config;
  transport: Transport;
  /** Drop everything without draining (simulated crash). */
  crash(): Promise<void>;
}

export function tempStatePath(): string {
  return mkdtempSync(join(tmpdir(), 'hw-state-'));
}

/** A driver whose calls can be intercepted per method (the real driver does the work). */
export function intercepted(real: Driver, around: (method: string, args: unknown[], call: () => Promise<unknown>) => Promise<unknown>): Driver {
  return new Proxy(real, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      const fn = v as (...a: unknown[]) => Promise<unknown>;
      if (['close', 'listGuests', 'inventory', 'getState', 'watch'].includes(String(prop))) return fn.bind(target);
      return (...args: unknown[]) => around(String(prop), args, () => fn.apply(target, args));
    },
  });
}

export async function startHostWorker(o: { host: string; statePath: string; config?: Partial<Config>; wrap?: (d: Driver) => Driver; logStream?: NodeJS.WritableStream }): Promise<HostWorker> {
  const config: Config = {
    ...loadConfig({ env: {}, flags: { amqpUrl: AMQP_URL, host: o.host, statePath: o.statePath, logLevel: process.env.TEST_LOG_LEVEL ?? 'error', logFormat: 'json', instancesPath: join(tmpdir(), 'hostwall-test-instances') } }),
    ...(o.config ?? {}),
  };
  const real = await openLibvirtDriver({ uri: config.libvirtUri, connections: 2, instancesPath: config.instancesPath });
  const driver = o.wrap ? o.wrap(real) : real;
  const transport = createAmqp091Transport({ url: config.amqpUrl, connectionName: `hw-test-${o.host}`, reconnectMinMs: 100, reconnectMaxMs: 1000, maxPublishBytes: config.maxPublishBytes });
  const worker = new Worker({ config, log: createLogger({ level: config.logLevel, format: config.logFormat, ...(o.logStream ? { stream: o.logStream } : {}) }), transport, driver });
  await worker.start();
  return {
    worker, config, transport,
    crash: async () => {
      worker.dispatcher.beginDrain();
      await transport.close();
      worker.store.close();
    },
  };
}
