/**
 * The worker's lifecycle (Temporal's worker states, simplified):
 *   created → starting → running → draining → stopped
 * - starting: open the driver, connect, declare the topology, learn the
 *   guests the hypervisor already has, then consume.
 * - draining (SIGTERM): stop consuming; intents in flight may finish within
 *   the shutdown deadline; anything not final is left unacked, so the broker
 *   delivers it again (to this host's next worker).
 */
import type { Config } from '../config';
import { RecentOutcomes } from '../dispatch/dedupe';
import { Dispatcher } from '../dispatch/dispatcher';
import { InstanceBook } from '../dispatch/instance-book';
import type { FinalOutcome } from '../dispatch/outcome';
import { PortReadiness } from '../dispatch/port-readiness';
import { hostConnector } from '../drivers/host-connector';
import type { Driver } from '../drivers/driver';
import type { Logger } from '../log';
import { Serializer } from '../serializer/serializer';
import type { Transport } from '../transport/transport';
import { BusEventSink } from './event-sink';
import { type WorkerTopology, workerTopology } from './topology';
import { OsloWire } from './wire';

export type WorkerState = 'created' | 'starting' | 'running' | 'draining' | 'stopped';

export interface WorkerParts {
  config: Config;
  log: Logger;
  transport: Transport;
  driver: Driver;
}

export class Worker {
  state: WorkerState = 'created';
  readonly dispatcher: Dispatcher;
  readonly serializer: Serializer;
  readonly book: InstanceBook;
  readonly topology: WorkerTopology;
  private readonly parts: WorkerParts;

  constructor(parts: WorkerParts) {
    this.parts = parts;
    const { config, log, transport, driver } = parts;
    this.topology = workerTopology(config);
    this.serializer = new Serializer({ concurrency: config.concurrency });
    this.book = new InstanceBook(config.host);
    const events = new BusEventSink(transport, config, log);
    this.dispatcher = new Dispatcher({
      wire: new OsloWire(transport, config.host, log),
      events,
      serializer: this.serializer,
      book: this.book,
      recent: new RecentOutcomes<FinalOutcome>(config.dedupeMemory),
      log,
      exec: {
        driver,
        ports: new PortReadiness({ memoryMs: config.portReadyMemoryS * 1000 }),
        connector: async () => hostConnector({ host: config.host }),
        vifPluggingTimeoutS: config.vifPluggingTimeoutS,
        vifPluggingIsFatal: config.vifPluggingIsFatal,
        log,
      },
    });
  }

  async start(): Promise<void> {
    const { config, log, transport, driver } = this.parts;
    this.state = 'starting';
    await transport.start();
    await transport.declare(this.topology.declare);
    for (const g of await driver.listGuests()) this.book.observe(g.instance_uuid, g.power_state, g.name);
    await transport.consume(this.topology.consume, { prefetch: config.prefetch }, this.dispatcher.onMessage);
    this.state = 'running';
    log.info('worker running', {
      host: config.host, driver: driver.name, queues: this.topology.consume, control_exchange: config.controlExchange,
      concurrency: config.concurrency, prefetch: config.prefetch, guests: this.book.uuids().length,
    });
  }

  /** Graceful stop; resolves true if every in-flight intent finished before the deadline. */
  async stop(deadlineMs = this.parts.config.shutdownTimeoutS * 1000): Promise<boolean> {
    const { log, transport, driver } = this.parts;
    if (this.state === 'stopped') return true;
    this.state = 'draining';
    await transport.cancelConsumers().catch((err: unknown) => log.warn('cancel consumers failed', { error: String(err) }));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.dispatcher.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (!finished) log.warn('shutdown deadline passed: unfinished intents stay unacked and will be redelivered', { pending: this.dispatcher.pending });
    await transport.close().catch((err: unknown) => log.warn('transport close failed', { error: String(err) }));
    await driver.close().catch((err: unknown) => log.warn('driver close failed', { error: String(err) }));
    this.state = 'stopped';
    log.info('worker stopped', { clean: finished });
    return finished;
  }
}
