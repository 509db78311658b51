/**
 * One process of the scale run: many simulated hosts, each a real
 * `new Worker({config, log, transport, driver})` with its own config (host
 * name), its own intent store, queues, dispatcher and serializer, sharing
 * what a process can share:
 *
 * - one libvirt test driver (test:///default is one in-process hypervisor
 *   per process anyway); its close() is left to the process, and its
 *   watch() is hidden (see shared());
 * - a few AMQP connections: host i uses connection i mod C. Each Worker
 *   still opens its own consumer channel (one consume() call) and
 *   declares its own topology; publishes go through the connection's one
 *   confirm channel. The broker here allows ~830 sockets (ulimit 1024),
 *   so one connection per simulated host is not possible (see scale.ts).
 *
 * Commands (IPC): rss, stop.
 */
import { mkdirSync } from 'node:fs';
import { loadConfig } from '../src/config';
import type { Driver } from '../src/drivers/driver';
import { openLibvirtDriver } from '../src/drivers/libvirt/driver';
import { createLogger } from '../src/log';
import { type Amqp091Transport, createAmqp091Transport } from '../src/transport/amqp091';
import type { ConsumeOptions, MessageHandler, OutboundMessage, PublishResult, Topology, Transport } from '../src/transport/transport';
import { Worker } from '../src/worker/worker';
import { applyExperiments } from './experiments';

export interface ScaleChildSpec {
  amqpUrl: string;
  controlExchange: string;
  hosts: string[];
  connections: number;
  statePath: string;
  instancesPath: string;
  /** Workers started at once. */
  startConcurrency: number;
  settings: Record<string, string>;
  label: string;
}

/** A connection shared by several Workers: start/close/cancel belong to the process, the rest is the connection's. */
class SharedTransport implements Transport {
  constructor(private readonly inner: Transport) {}
  start(): Promise<void> {
    return Promise.resolve();
  }
  declare(topology: Topology): Promise<void> {
    return this.inner.declare(topology);
  }
  consume(queues: string[], opts: ConsumeOptions, handler: MessageHandler): Promise<void> {
    return this.inner.consume(queues, opts, handler);
  }
  cancelConsumers(): Promise<void> {
    return Promise.resolve();
  }
  inFlight(): number {
    return this.inner.inFlight();
  }
  drained(): Promise<void> {
    return this.inner.drained();
  }
  publish(msg: OutboundMessage): Promise<PublishResult> {
    return this.inner.publish(msg);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The process's one driver, handed to every Worker; closing it is the
 * process's job. Without `watch`: the process has one test hypervisor, so
 * every simulated host's watch would get every guest's lifecycle events (250
 * watches, 250 connections, 250 reads per event), a load no real host has;
 * the Workers fall back to a listing at start (HypervisorSync).
 */
function shared(driver: Driver): Driver {
  return new Proxy(driver, {
    get(target, prop) {
      if (prop === 'close') return () => Promise.resolve();
      if (prop === 'watch') return undefined;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const send = (m: unknown) => process.send?.(m);

async function main(): Promise<void> {
  applyExperiments();
  const spec = JSON.parse(process.argv[2] ?? '{}') as ScaleChildSpec;
  mkdirSync(spec.statePath, { recursive: true });
  const base = loadConfig({ env: {}, flags: { ...spec.settings, amqpUrl: spec.amqpUrl, host: spec.hosts[0] ?? 'x', logFormat: 'json' } });
  const log = createLogger({ level: base.logLevel, format: 'json' });
  const driver = await openLibvirtDriver({ uri: base.libvirtUri, connections: base.libvirtConnections, instancesPath: spec.instancesPath });
  const transports: Amqp091Transport[] = [];
  for (let c = 0; c < spec.connections; c++) {
    const t = createAmqp091Transport({ url: spec.amqpUrl, connectionName: `hwscale:${spec.label}:${c}`, log: (level, message, meta) => log.log(level, message, meta ?? {}) });
    await t.start();
    transports.push(t);
  }
  const workers: Worker[] = [];
  const t0 = Date.now();
  let next = 0;
  const startOne = async (): Promise<void> => {
    for (let i = next++; i < spec.hosts.length; i = next++) {
      const host = spec.hosts[i] ?? '';
      const config = loadConfig({
        env: {},
        flags: { ...spec.settings, amqpUrl: spec.amqpUrl, host, controlExchange: spec.controlExchange, instancesPath: spec.instancesPath, statePath: spec.statePath, logFormat: 'json' },
      });
      const inner = transports[i % transports.length];
      if (!inner) throw new Error('no transport');
      const w = new Worker({ config, log, transport: new SharedTransport(inner), driver: shared(driver) });
      await w.start();
      workers.push(w);
    }
  };
  await Promise.all(Array.from({ length: spec.startConcurrency }, startOne));
  const startS = (Date.now() - t0) / 1000;

  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'rss') {
      const mu = process.memoryUsage();
      send({ type: 'rss', rss: mu.rss, heapUsed: mu.heapUsed });
    } else if (msg.cmd === 'stop') {
      void (async () => {
        await Promise.all(transports.map((t) => t.cancelConsumers().catch(() => undefined)));
        const clean = await Promise.all(workers.map((w) => w.stop(10_000).catch(() => false)));
        await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
        await driver.close().catch(() => undefined);
        send({ type: 'stopped', clean: clean.filter(Boolean).length });
        process.exit(0);
      })();
    }
  });
  send({
    type: 'ready',
    pid: process.pid,
    startS,
    queues: workers.flatMap((w) => [...w.topology.consume.filter((q) => q !== base.topic), w.topology.deadLetterQueue]),
    rss: process.memoryUsage.rss(),
  });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
