/**
 * The worker's lifecycle (Temporal's worker states, simplified):
 *   created → starting → running → draining → stopped
 * - starting: open the driver, connect, declare the topology (and the
 *   journal stream), learn the guests the hypervisor already has, reconcile
 *   intents a previous run left unfinished, then consume.
 * - draining (SIGTERM): stop consuming; intents already running finish within
 *   the shutdown deadline; intents not yet started are not started, and stay
 *   unacked, so the broker delivers them again (to this host's next worker),
 *   as it does anything not final when the deadline passes.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config';
import { Dispatcher } from '../dispatch/dispatcher';
import { InstanceBook } from '../dispatch/instance-book';
import { OutcomeLedger } from '../dispatch/ledger';
import { PortReadiness } from '../dispatch/port-readiness';
import { recoverInterrupted } from '../dispatch/recovery';
import { WaitWatch } from '../dispatch/wait-watch';
import type { Driver } from '../drivers/driver';
import { ConfigError } from '../errors';
import { hostConnector } from '../drivers/host-connector';
import { BUILD_GROUP } from '../intents';
import type { Logger } from '../log';
import { loadIssuerKeys } from '../policy/identity';
import { IssuerPolicy } from '../policy/issuer-policy';
import { Serializer } from '../serializer/serializer';
import { IntentStore } from '../store/intent-store';
import { JOURNAL_STREAM, journalBindings, journalQueue } from '../store/journal';
import type { Transport } from '../transport/transport';
import type { WorkerCompanion } from './companion';
import { BusEventSink } from './event-sink';
import { awaitHostFree, consumeAsOwner, type HostClaim } from './host-claim';
import { HypervisorSync } from './hypervisor-sync';
import { WorkerMetrics } from './metrics';
import { type Readiness, ReadinessProbe } from './readiness';
import { StatusServer } from './status-server';
import { countedByBroker, type WorkerTopology, workerTopology } from './topology';
import { OsloWire } from './wire';

export type WorkerState = 'created' | 'starting' | 'running' | 'draining' | 'stopped';

export interface WorkerParts {
  config: Config;
  log: Logger;
  transport: Transport;
  driver: Driver;
  /** Duties beside the core (companion.ts): the Nova compute host, when this worker replaces nova-compute. */
  companion?: WorkerCompanion | undefined;
}

const PRUNE_EVERY_MS = 60 * 60 * 1000;
/** How often a standby worker looks whether the host's queue is free. */
const STANDBY_RETRY_MS = 5_000;

/** Where a host's intent store lives under the state path. */
export function intentStorePath(config: Pick<Config, 'statePath' | 'host'>): string {
  return join(config.statePath, `intents-${config.host}.sqlite`);
}

export class Worker {
  state: WorkerState = 'created';
  readonly dispatcher: Dispatcher;
  readonly serializer: Serializer;
  readonly book: InstanceBook;
  readonly topology: WorkerTopology;
  readonly store: IntentStore;
  /** Counted always (cheap); served at /metrics when --http-address is set. */
  readonly metrics: WorkerMetrics;
  private readonly events: BusEventSink;
  private readonly parts: WorkerParts;
  private pruner: NodeJS.Timeout | undefined;
  private readonly hypervisor: HypervisorSync;
  private readonly waits: WaitWatch;
  private readonly probe: ReadinessProbe;
  private readonly http: StatusServer;
  /** Where /healthz, /readyz and /metrics answer, once started with --http-address. */
  httpAddress: string | undefined;

  constructor(parts: WorkerParts) {
    this.parts = parts;
    const { config, transport, driver } = parts;
    // Every line of the core names the host (oslo.log's context); intent lines add their own facts.
    const log = parts.log.child({ host: config.host });
    this.topology = workerTopology(config);
    this.serializer = new Serializer({ concurrency: config.concurrency, groups: { [BUILD_GROUP]: config.maxConcurrentBuilds } });
    this.book = new InstanceBook(config.host);
    this.events = new BusEventSink(transport, config, log);
    const companion = parts.companion;
    if (companion?.onInstanceState) this.events.onInstanceState = (f, r, c) => companion.onInstanceState?.(f, r, c);
    this.hypervisor = new HypervisorSync({ driver, book: this.book, events: this.events, log });
    const policy = new IssuerPolicy({ mode: config.issuerMode, users: config.issuerUsers, keys: loadIssuerKeys(config.issuerKeysFile), signatureWindowMs: config.signatureWindowMs });
    // Opened last: it takes the store's lock, and a constructor that throws after it would leak it.
    this.store = IntentStore.open({ path: intentStorePath(config), runId: randomUUID(), retentionMs: config.storeRetentionMs });
    this.waits = new WaitWatch(config.waitLogIntervalMs);
    this.metrics = new WorkerMetrics({
      inFlight: () => this.dispatcher.pending,
      serializer: () => this.serializer.stats(),
      transport: () => transport.health?.(),
      events: () => this.events.counts,
      storeBytes: () => this.store.sizeBytes(),
      waiting: () => this.waits.size,
    });
    this.probe = new ReadinessProbe({ state: () => this.state, transport: () => transport.health?.(), driver, companion: parts.companion });
    this.http = new StatusServer({ state: () => this.state, readiness: () => this.readiness(), metrics: this.metrics, log });
    this.dispatcher = new Dispatcher({
      wire: new OsloWire(transport, config.host, log, config),
      events: this.events,
      serializer: this.serializer,
      book: this.book,
      ledger: new OutcomeLedger(this.store, config.dedupeMemory, log),
      store: this.store,
      policy,
      poisonDeliveries: config.poisonDeliveries,
      countedByBroker: countedByBroker(this.topology),
      log,
      records: parts.companion?.records,
      novaInstanceNameTemplate: config.novaInstanceNameTemplate,
      metrics: this.metrics,
      waits: this.waits,
      exec: {
        driver,
        ports: new PortReadiness({ memoryMs: config.portReadyMemoryMs }),
        connector: async () => hostConnector({ host: config.host }),
        vifPluggingTimeoutMs: config.vifPluggingTimeoutMs,
        vifPluggingIsFatal: config.vifPluggingIsFatal,
        log,
        waits: this.waits,
      },
    });
  }

  /** What /readyz answers: connected, consuming, the driver answering, the companion's duties done. */
  readiness(): Promise<Readiness> {
    return this.probe.check();
  }

  async start(): Promise<void> {
    const { config, log } = this.parts;
    this.state = 'starting';
    // First, so that a worker still starting (waiting for a conductor, say) answers /healthz and says why it is not ready.
    if (config.httpAddress !== '') {
      this.httpAddress = await this.http.start(config.httpAddress);
      this.metrics.withProcessMetrics();
      log.info('http endpoint listening: /healthz /readyz /metrics', { address: this.httpAddress });
    }
    try {
      await this.run();
    } catch (err) {
      await this.http.stop();
      throw err;
    }
  }

  private async run(): Promise<void> {
    const { config, log, transport, driver } = this.parts;
    if (config.issuerMode === 'open') {
      log.warn('issuerMode is open: issuers are NOT verified; anyone who can publish to this host\'s queues can act as Nova (set issuerMode=verified with issuerUsers or issuerKeysFile)', { host: config.host });
    }
    await transport.start();
    await transport.declare(this.topology.declare);
    // One worker per host: refuse (or wait as a standby) before touching anything.
    const claim: HostClaim = { transport, host: config.host, queue: this.topology.server, standby: config.standby, retryMs: STANDBY_RETRY_MS, log, stopping: () => this.state !== 'starting' };
    if (!(await awaitHostFree(claim))) return;
    if (config.journal) await this.declareJournal();
    for (const g of await this.hypervisor.start()) this.book.observe(g.instance_uuid, g.power_state, g.name);
    const recovered = await recoverInterrupted({ store: this.store, driver, events: this.events, book: this.book, log });
    this.prune();
    this.pruner = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruner.unref();
    if (this.parts.companion) {
      await this.parts.companion.start({ driver, book: this.book, log, stopping: () => this.state !== 'starting' });
      if (this.state !== 'starting') return;
    }
    const consume = () => transport.consume(this.topology.consume, { prefetch: config.prefetch, exclusive: this.topology.exclusive }, this.dispatcher.onMessage);
    if (!(await consumeAsOwner(claim, consume))) return;
    this.state = 'running';
    log.info('worker running', {
      host: config.host, driver: driver.name, queues: this.topology.consume, control_exchange: config.controlExchange,
      concurrency: config.concurrency, prefetch: config.prefetch, guests: this.book.uuids().length,
      intent_store: intentStorePath(config), recovered, journal: config.journal ? JOURNAL_STREAM : null, issuer_mode: config.issuerMode,
      http_address: this.httpAddress ?? null,
    });
  }

  /** The stream may exist with other retention settings (another worker's): keep it, bind it, say so. */
  private async declareJournal(): Promise<void> {
    const { config, log, transport } = this.parts;
    try {
      await transport.declare(journalQueue(config));
    } catch (err) {
      log.warn('journal stream exists with other arguments; keeping the broker\'s', { stream: JOURNAL_STREAM, error: String(err) });
    }
    try {
      await transport.declare(journalBindings(config));
    } catch (err) {
      throw new ConfigError(`journal stream ${JOURNAL_STREAM} is not usable (streams need RabbitMQ 3.9 or later): ${err instanceof Error ? err.message : String(err)}; set journal=false (HOSTWALL_JOURNAL) to run without the journal`);
    }
  }

  private prune(): void {
    try {
      const n = this.store.prune();
      if (n > 0) this.parts.log.info('intent store pruned', { removed: n, retention_h: this.parts.config.storeRetentionMs / 3_600_000 });
    } catch (err) {
      this.parts.log.warn('intent store prune failed', { error: String(err) });
    }
  }

  /** Graceful stop; resolves true if every in-flight intent finished before the deadline. */
  async stop(deadlineMs = this.parts.config.shutdownTimeoutMs): Promise<boolean> {
    const { log, transport, driver } = this.parts;
    if (this.state === 'stopped') return true;
    this.state = 'draining';
    this.dispatcher.beginDrain();
    if (this.pruner) clearInterval(this.pruner);
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
    this.events.close();
    await this.parts.companion?.stop().catch((err: unknown) => log.warn(`${this.parts.companion?.name} stop failed`, { error: String(err) }));
    await this.hypervisor.stop().catch((err: unknown) => log.warn('hypervisor watch stop failed', { error: String(err) }));
    await transport.close().catch((err: unknown) => log.warn('transport close failed', { error: String(err) }));
    await driver.close().catch((err: unknown) => log.warn('driver close failed', { error: String(err) }));
    this.store.close();
    this.waits.stop();
    this.state = 'stopped';
    await this.http.stop();
    log.info('worker stopped', { clean: finished });
    return finished;
  }
}
