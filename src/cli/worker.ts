/** `hostwall worker`: run this host's worker until SIGTERM/SIGINT (SIGHUP reloads: worker-signals.ts). */
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { redactUrl } from '../config';
import { openConfiguredDriver } from '../drivers/libvirt/options';
import { createLogger, levelOf } from '../log';
import { openTransport } from '../worker/connect';
import { applyProcessSettings } from '../worker/process-settings';
import { Worker } from '../worker/worker';
import { openComputeHost, wantsComputeHost } from './nova-compute-host';
import { addSettingFlags, settingsFromFlags } from './settings-flags';
import { handleSignals } from './worker-signals';

export function registerWorker(program: Command): void {
  const cmd = program.command('worker').description("run the worker for one host: consume its oslo topics, apply intents, publish events");
  addSettingFlags(cmd).action(async (opts: Record<string, unknown>) => {
    const { config, nova, files } = settingsFromFlags(opts);
    applyProcessSettings(config);
    const log = createLogger({ level: levelOf(config), format: config.logFormat, file: config.logFile || undefined });
    if (nova && nova.ignored.length > 0) log.info('config keys hostwall does not use (ignored)', { keys: nova.ignored });
    const companion = wantsComputeHost(config, nova) ? openComputeHost(config, nova, log) : undefined;
    mkdirSync(config.instancesPath, { recursive: true });
    const driver = await openConfiguredDriver(config, log);
    const transport = openTransport(config, { connectionName: `hostwall-worker:${config.host}:${process.pid}`, log });
    const worker = new Worker({ config, log, transport, driver, companion });
    log.info('starting', { host: config.host, amqp_url: redactUrl(config.amqpUrl), libvirt_uri: config.libvirtUri, queues: config.queues, nova_compute_host: companion !== undefined, config_files: files });
    handleSignals(worker, log, { current: { ...config }, read: () => settingsFromFlags(opts).config });
    await worker.start();
  });
}
