/** `hostwall worker`: run this host's worker until SIGTERM/SIGINT. */
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { redactUrl } from '../config';
import { openLibvirtDriver } from '../drivers/libvirt/driver';
import { libvirtDriverOptions } from '../drivers/libvirt/options';
import { createLogger } from '../log';
import { openTransport } from '../worker/connect';
import { applyProcessSettings } from '../worker/process-settings';
import { Worker } from '../worker/worker';
import { openComputeHost, wantsComputeHost } from './nova-compute-host';
import { addSettingFlags, settingsFromFlags } from './settings-flags';

export function registerWorker(program: Command): void {
  const cmd = program.command('worker').description("run the worker for one host: consume its oslo topics, apply intents, publish events");
  addSettingFlags(cmd).action(async (opts: Record<string, unknown>) => {
    const { config, nova } = settingsFromFlags(opts);
    applyProcessSettings(config);
    const log = createLogger({ level: config.logLevel, format: config.logFormat });
    if (nova && nova.ignored.length > 0) log.info('config keys hostwall does not use (ignored)', { keys: nova.ignored });
    const companion = wantsComputeHost(config, nova) ? openComputeHost(config, nova, log) : undefined;
    mkdirSync(config.instancesPath, { recursive: true });
    const driver = await openLibvirtDriver(libvirtDriverOptions(config, log));
    const transport = openTransport(config, { connectionName: `hostwall-worker:${config.host}:${process.pid}`, log });
    const worker = new Worker({ config, log, transport, driver, companion });
    log.info('starting', { host: config.host, amqp_url: redactUrl(config.amqpUrl), libvirt_uri: config.libvirtUri, queues: config.queues, nova_compute_host: companion !== undefined });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: draining`, { pending: worker.dispatcher.pending });
      worker.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: String(err) });
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    await worker.start();
  });
}
