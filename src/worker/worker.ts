/**
 * The worker's lifecycle (Temporal's worker states, simplified):
 *   created → starting → running → draining → stopped
 *                      ↘ failed
 * - starting: open the driver, connect, declare the topology (and the
 *   journal stream), learn the guests the hypervisor already has, reconcile
 *   intents a previous run left unfinished, then consume.
 * - failed: a step of starting threw; what had started was stopped again,
 *   last first (the driver and the intent store too), and `failure` says
 *   which step and why. start() rejects with what the step threw.
 * - draining (SIGTERM): stop consuming; intents already running finish within
 *   the grace period (shutdownTimeout, Nova's graceful_shutdown_timeout);
 *   intents not yet started are not started, and stay unacked, so the broker
 *   delivers them again (to this host's next worker). Past the grace period
 *   (Temporal's force after its grace) the waits still in progress (a clean
 *   power-off may wait an hour, a hot-unplug device_detach_timeout, a spawn
 *   its ports) end at once: those intents record no outcome and stay
 *   unacked, their 'started' records reconciled at the next start as after a
 *   crash (dispatch/recovery.ts); everything is closed at most SHUTDOWN_FORCE_MS
 *   later, whatever is still running.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config';
import { Dispatcher } from '../dispatch/dispatcher';
import { InstanceBook } from '../host-state/instance-book';
import { OutcomeLedger } from '../dispatch/ledger';
import { PortReadiness } from '../host-state/port-readiness';
import { recoverInterrupted } from '../dispatch/recovery';
import { WaitWatch } from '../dispatch/wait-watch';
import type { Driver } from '../drivers/driver';
import { ConfigError, HostwallError, StartFailure } from '../errors';
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
import { BusEventSink } from '../events/bus-event-sink';
import { awaitHostFree, consumeAsOwner, type HostClaim } from './host-claim';
import { HypervisorSync } from './hypervisor-sync';
import { WorkerMetrics } from './metrics';
import { type Readiness, ReadinessProbe } from './readiness';
import { StatusServer } from './status-server';
import { countedByBroker, type WorkerTopology, workerTopology } from './topology';
import { OsloWire } from '../oslo/wire/oslo-wire';

export type WorkerState = 'created' | 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** The steps of start(), in order; a failed start names its step (StartFailure's details.step). */
export type StartStep = 'http' | 'broker' | 'journal' | 'hypervisor' | 'recovery' | 'companion' | 'consume';

/**
 * After the grace period, how long the intents whose waits were cut short
 * get to leave (a libvirt call in progress still returns) before the worker
 * closes everything anyway: stop() takes at most grace + about twice this.
 */
export const SHUTDOWN_FORCE_MS = 5_000;

/** Whether `p` settled within `ms` (its result or failure is the caller's business). */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

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
  /** Why start() failed (state `failed`): the step in details, what it threw as `cause`. */
  failure: StartFailure | undefined;
  /** Aborted when stop()'s grace period is over: the waits of the intents in flight end (drivers/stop-signal.ts). */
  private readonly force = new AbortController();
  /** What start() started, each with how to stop it: undone last first if a later step fails. */
  private readonly started: { what: string; stop: () => Promise<void> }[] = [];
  private step: StartStep = 'http';
  private stopping: Promise<boolean> | undefined;

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
      inFlight: () => transport.inFlight(),
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
        signal: this.force.signal,
      },
    });
  }

  /** What /readyz answers: connected, consuming, the driver answering, the companion's duties done. */
  readiness(): Promise<Readiness> {
    return this.probe.check();
  }

  /** Start every part in order; if one fails, stop what started (state `failed`) and reject with what it threw. */
  async start(): Promise<void> {
    const { log } = this.parts;
    this.state = 'starting';
    try {
      await this.run();
    } catch (err) {
      // A stop() begun meanwhile closes everything itself.
      if (this.state !== 'starting') throw err;
      this.state = 'failed';
      const why = err instanceof Error ? err.message : String(err);
      this.failure = new StartFailure(`the worker did not start: ${this.step}: ${why}`, { step: this.step, ...(err instanceof HostwallError ? { cause_code: err.code } : {}) });
      this.failure.cause = err;
      await this.rollBack();
      log.error('worker failed to start; what had started was stopped', { step: this.step, error: why });
      // What the step threw decides the exit code (a ConfigError exits 2: errors.ts exitCodeOf).
      throw err;
    }
  }

  /** Remember how to stop what is being started (before it starts: a part that failed half-way is stopped too). */
  private starting(what: string, stop: () => Promise<void> | void): void {
    this.started.push({ what, stop: async () => stop() });
  }

  /** Stop what start() started, last first. Each is stopped even if another fails to. */
  private async rollBack(): Promise<void> {
    if (this.pruner) clearInterval(this.pruner);
    for (const part of this.started.splice(0).reverse()) {
      await part.stop().catch((err: unknown) => this.parts.log.warn(`${part.what} stop failed`, { error: String(err) }));
    }
  }

  private async run(): Promise<void> {
    const { config, log, transport, driver } = this.parts;
    // The worker owns the driver and the store it was given or opened: a failed start closes them too.
    this.starting('driver', () => driver.close());
    this.starting('intent store', () => this.store.close());
    this.starting('event sink', () => {
      this.events.close();
      this.waits.stop();
    });
    // First, so that a worker still starting (waiting for a conductor, say) answers /healthz and says why it is not ready.
    if (config.httpAddress !== '') {
      this.starting('http endpoint', () => this.http.stop());
      this.httpAddress = await this.http.start(config.httpAddress);
      this.metrics.withProcessMetrics();
      log.info('http endpoint listening: /healthz /readyz /metrics', { address: this.httpAddress });
    }
    if (config.issuerMode === 'open') {
      log.warn('issuerMode is open: issuers are NOT verified; anyone who can publish to this host\'s queues can act as Nova (set issuerMode=verified with issuerUsers or issuerKeysFile)', { host: config.host });
    }
    this.step = 'broker';
    this.starting('transport', () => transport.close());
    await transport.start();
    await transport.declare(this.topology.declare);
    // One worker per host: refuse (or wait as a standby) before touching anything.
    const claim: HostClaim = { transport, host: config.host, queue: this.topology.server, standby: config.standby, retryMs: STANDBY_RETRY_MS, log, stopping: () => this.state !== 'starting' };
    if (!(await awaitHostFree(claim))) return;
    this.step = 'journal';
    if (config.journal) await this.declareJournal();
    this.step = 'hypervisor';
    this.starting('hypervisor watch', () => this.hypervisor.stop());
    for (const g of await this.hypervisor.start()) this.book.observe(g.instance_uuid, g.power_state, g.name);
    this.step = 'recovery';
    const recovered = await recoverInterrupted({ store: this.store, driver, events: this.events, book: this.book, log });
    this.prune();
    this.pruner = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruner.unref();
    const companion = this.parts.companion;
    if (companion) {
      this.step = 'companion';
      this.starting(companion.name, () => companion.stop());
      await companion.start({ driver, book: this.book, log, stopping: () => this.state !== 'starting' });
      if (this.state !== 'starting') return;
    }
    this.step = 'consume';
    const consume = () => transport.consume(this.topology.consume, { prefetch: config.prefetch, exclusive: this.topology.exclusive }, this.dispatcher.onMessage);
    if (!(await consumeAsOwner(claim, consume))) return;
    this.started.length = 0;
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

  /** Messages received and not yet settled (the transport's count). */
  get pending(): number {
    return this.parts.transport.inFlight();
  }

  /**
   * Graceful stop; resolves true if every in-flight intent finished within
   * `graceMs`. Past it, the waits in progress are cut short (the intents stay
   * unacked, no outcome recorded) and, `forceMs` later at most, everything is
   * closed whatever still runs. Idempotent: a second call gets the first's answer.
   */
  stop(graceMs = this.parts.config.shutdownTimeoutMs, forceMs = SHUTDOWN_FORCE_MS): Promise<boolean> {
    // A failed start stopped everything already.
    if (this.state === 'failed') return Promise.resolve(true);
    this.stopping ??= this.drainAndClose(graceMs, forceMs);
    return this.stopping;
  }

  private async drainAndClose(graceMs: number, forceMs: number): Promise<boolean> {
    const { log, transport, driver } = this.parts;
    this.state = 'draining';
    this.dispatcher.beginDrain();
    if (this.pruner) clearInterval(this.pruner);
    await transport.cancelConsumers().catch((err: unknown) => log.warn('cancel consumers failed', { error: String(err) }));
    const finished = await settledWithin(transport.drained(), graceMs);
    let stuck = false;
    if (!finished) {
      log.warn('shutdown deadline passed: unfinished intents stay unacked and will be redelivered', { pending: transport.inFlight(), force_ms: forceMs });
      this.force.abort();
      stuck = !(await settledWithin(transport.drained(), forceMs));
      if (stuck) log.warn('intents still running past the force deadline (a hypervisor call that does not return?): closing anyway', { pending: transport.inFlight() });
    }
    this.events.close();
    await this.parts.companion?.stop().catch((err: unknown) => log.warn(`${this.parts.companion?.name} stop failed`, { error: String(err) }));
    await this.hypervisor.stop().catch((err: unknown) => log.warn('hypervisor watch stop failed', { error: String(err) }));
    await transport.close().catch((err: unknown) => log.warn('transport close failed', { error: String(err) }));
    // The driver waits for its calls in flight: bounded once the force deadline has passed with some still running.
    const closing = driver.close().catch((err: unknown) => log.warn('driver close failed', { error: String(err) }));
    if (stuck && !(await settledWithin(closing, forceMs))) log.warn('driver close did not finish: a libvirt call is still in progress');
    if (!stuck) await closing;
    this.store.close();
    this.waits.stop();
    this.state = 'stopped';
    await this.http.stop();
    log.info('worker stopped', { clean: finished });
    return finished;
  }
}
