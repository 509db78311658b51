/**
 * The real hostwall worker in a process of its own (so its RSS and CPU
 * profile are its own): the libvirt test driver, the AMQP 0-9-1 transport,
 * `new Worker({config, log, transport, driver})` with the configuration
 * loadConfig builds (defaults unless the bench passes --set overrides), and
 * winston logging at the configured level to stderr, which the parent points
 * at a file.
 *
 * The only addition is a gate in front of the dispatcher: while it is closed,
 * deliveries (at most `prefetch` per queue, the broker holds the rest) wait
 * here instead of being dispatched, so the parent can preload the queue of a
 * running worker. Opening the gate hands them over in arrival order; open,
 * it costs one branch per message.
 *
 * Commands from the parent (IPC): gate {open}, rss {on}, stop.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { type Config, loadConfig } from '../src/config';
import { openLibvirtDriver } from '../src/drivers/libvirt/driver';
import { createLogger } from '../src/log';
import { createAmqp091Transport } from '../src/transport/amqp091';
import type { ConsumeOptions, InboundMessage, MessageHandler, OutboundMessage, PublishResult, Settlement, Topology, Transport } from '../src/transport/transport';
import { applyProcessSettings } from '../src/worker/process-settings';
import { Worker } from '../src/worker/worker';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import koffi from 'koffi';
import { mb } from './common';
import { applyExperiments, libvirtCalls, libvirtMs, storeFlushStats, storeFlushes } from './experiments';
import { LoopMeter } from './loop-meter';

export interface WorkerChildSpec {
  amqpUrl: string;
  host: string;
  controlExchange: string;
  instancesPath: string;
  /** Where the intent store (SQLite) goes: a directory of the run, deleted after. */
  statePath: string;
  /** Settings overrides (--set name=value), as loadConfig flags. */
  settings: Record<string, string>;
}

class GatedTransport implements Transport {
  open = true;
  private held: (() => void)[] = [];
  /** Deliveries past the gate, in the worker's handler: what a closed gate waits for. */
  private passed = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly inner: Transport) {}

  get heldCount(): number {
    return this.held.length;
  }

  setGate(open: boolean): void {
    this.open = open;
    if (open) for (const pass of this.held.splice(0)) pass();
  }

  start(): Promise<void> {
    return this.inner.start();
  }
  declare(topology: Topology): Promise<void> {
    return this.inner.declare(topology);
  }
  consume(queues: string[], opts: ConsumeOptions, handler: MessageHandler): Promise<void> {
    const pass = (m: InboundMessage): Promise<Settlement> => {
      this.passed++;
      return handler(m).finally(() => {
        if (--this.passed === 0) for (const w of this.drainWaiters.splice(0)) w();
      });
    };
    return this.inner.consume(queues, opts, (m) => {
      if (this.open) return pass(m);
      return new Promise((resolve) => this.held.push(() => resolve(pass(m))));
    });
  }
  cancelConsumers(): Promise<void> {
    return this.inner.cancelConsumers();
  }
  inFlight(): number {
    return this.passed;
  }
  drained(): Promise<void> {
    return this.passed === 0 ? Promise.resolve() : new Promise((resolve) => this.drainWaiters.push(resolve));
  }
  publish(msg: OutboundMessage): Promise<PublishResult> {
    return this.inner.publish(msg);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const send = (m: unknown) => process.send?.(m);


/** RSS split into the JS heap's spaces (committed), V8's external memory, and the rest (native: libvirt, SQLite, code, malloc). */
let mallinfoFn: (() => Record<string, number | bigint>) | null | undefined;
/** glibc's mallinfo2 (bytes malloc'd in use, and freed but kept by the allocator), where it exists. */
function mallinfo(): Record<string, number | bigint> | undefined {
  if (mallinfoFn === undefined) {
    try {
      const libc = koffi.load('libc.so.6');
      const t = koffi.struct('mallinfo2_t', { arena: 'size_t', ordblks: 'size_t', smblks: 'size_t', hblks: 'size_t', hblkhd: 'size_t', usmblks: 'size_t', fsmblks: 'size_t', uordblks: 'size_t', fordblks: 'size_t', keepcost: 'size_t' });
      const f = libc.func('mallinfo2', t, []);
      mallinfoFn = () => f() as Record<string, number | bigint>;
    } catch {
      mallinfoFn = null;
    }
  }
  return mallinfoFn ? mallinfoFn() : undefined;
}

let inspectorSession: Session | undefined;
/** Measurement only (HWBENCH_ALLOC_PROFILE=file): V8's sampling heap profiler, counting garbage too, over the drain. */
function startAllocationSampling(): void {
  inspectorSession = new Session();
  inspectorSession.connect();
  inspectorSession.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}

/** A session on this thread answers synchronously: the profile is written when this returns; why it was not, if it was not. */
function stopAllocationSampling(file: string): string | undefined {
  let failure: string | undefined;
  inspectorSession?.post('HeapProfiler.stopSampling', (err, res) => {
    if (err) failure = `HWBENCH_ALLOC_PROFILE: the heap profiler failed: ${err.message}`;
    else failure = writeProfile(file, JSON.stringify(res.profile));
  });
  inspectorSession?.disconnect();
  return failure;
}

function writeProfile(file: string, text: string): string | undefined {
  try {
    writeFileSync(file, text);
    return undefined;
  } catch (err) {
    return `HWBENCH_ALLOC_PROFILE: cannot write ${file}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function memoryAt(rss: number): Record<string, number> {
  const out: Record<string, number> = {};
  let heap = 0;
  for (const s of getHeapSpaceStatistics()) {
    heap += s.physical_space_size;
    out[s.space_name] = mb(s.physical_space_size);
  }
  const ext = process.memoryUsage().external;
  out.external = mb(ext);
  out.native_and_other = mb(rss - heap - ext);
  // Of that: V8's own malloc (compiler zones, GC work lists), outside its spaces.
  out.v8_malloced = mb(getHeapStatistics().malloced_memory);
  const m = mallinfo();
  if (m) {
    out.malloc_in_use = mb(Number(m.uordblks) + Number(m.hblkhd));
    out.malloc_free_kept = mb(Number(m.fordblks));
  }
  return out;
}

/** The settings that shape the hot path (those this build has). */
function pick(config: Config, names: string[]): Record<string, unknown> {
  const c = config as unknown as Record<string, unknown>;
  return Object.fromEntries(names.filter((n) => n in c).map((n) => [n, c[n]]));
}

async function main(): Promise<void> {
  const experiments = applyExperiments();
  // A profile that cannot be written fails now, not after the whole drain.
  const profileFile = process.env.HWBENCH_ALLOC_PROFILE;
  const unwritable = profileFile ? writeProfile(profileFile, '') : undefined;
  if (unwritable) throw new Error(unwritable);
  const spec = JSON.parse(process.argv[2] ?? '{}') as WorkerChildSpec;
  const config: Config = loadConfig({
    env: {},
    flags: { ...spec.settings, amqpUrl: spec.amqpUrl, host: spec.host, controlExchange: spec.controlExchange, instancesPath: spec.instancesPath, statePath: spec.statePath, logFormat: 'json' },
  });
  applyProcessSettings(config);
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  const driver = await openLibvirtDriver({ uri: config.libvirtUri, connections: config.libvirtConnections, instancesPath: config.instancesPath });
  const inner = createAmqp091Transport({
    url: config.amqpUrl,
    connectionName: `hwbench-worker:${config.host}:${process.pid}`,
    log: (level, message, meta) => log.log(level, message, meta ?? {}),
  });
  const transport = new GatedTransport(inner);
  const worker = new Worker({ config, log, transport, driver });
  await worker.start();

  let sampler: NodeJS.Timeout | undefined;
  let peak = 0;
  /** Where the memory was at the peak: the JS heap's spaces (MB) and what lies outside it. */
  let atPeak: Record<string, number> = {};
  let atStart: Record<string, number> = {};
  let samples = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  /** The latency run's event-loop delay (finer) and GC pauses: what of the tail is the worker's own. */
  const phaseLoop = new LoopMeter();

  process.on('message', (msg: { cmd: string; open?: boolean; on?: boolean }) => {
    switch (msg.cmd) {
      case 'gate': {
        transport.setGate(msg.open === true);
        const reply = () => send({ type: 'gate', open: transport.open, pending: transport.inFlight(), held: transport.heldCount });
        if (msg.open) reply();
        else void transport.drained().then(reply);
        break;
      }
      case 'loop': {
        if (msg.on) phaseLoop.start();
        else send({ type: 'loop', ...phaseLoop.stop() });
        break;
      }
      case 'rss': {
        if (msg.on) {
          peak = process.memoryUsage.rss();
          atPeak = memoryAt(peak);
          atStart = atPeak;
          samples = 0;
          storeFlushes.length = 0;
          libvirtCalls.clear();
          libvirtMs.clear();
          loop.reset();
          loop.enable();
          if (process.env.HWBENCH_ALLOC_PROFILE) startAllocationSampling();
          sampler = setInterval(() => {
            const r = process.memoryUsage.rss();
            samples++;
            if (r > peak) {
              peak = r;
              atPeak = memoryAt(r);
            }
          }, 20);
        } else {
          if (sampler) clearInterval(sampler);
          // Measurement only: what the heap holds right after the drain (bench/experiments.ts lists the switches).
          if (process.env.HWBENCH_HEAP_SNAPSHOT) writeHeapSnapshot(process.env.HWBENCH_HEAP_SNAPSHOT);
          const profileFailure = process.env.HWBENCH_ALLOC_PROFILE ? stopAllocationSampling(process.env.HWBENCH_ALLOC_PROFILE) : undefined;
          if (profileFailure) {
            send({ type: 'error', message: profileFailure });
            break;
          }
          loop.disable();
          const mu = process.memoryUsage();
          send({
            type: 'rss', peak, at_peak: atPeak, at_start: atStart, samples, rss: mu.rss, heapUsed: mu.heapUsed, heapTotal: mu.heapTotal, external: mu.external,
            loop: { p50_ms: loop.percentile(50) / 1e6, p99_ms: loop.percentile(99) / 1e6, max_ms: loop.max / 1e6 },
            store: storeFlushStats(),
            libvirt: libvirtCalls.size > 0 ? Object.fromEntries(libvirtCalls) : undefined,
            libvirt_ms: libvirtMs.size > 0 ? Object.fromEntries([...libvirtMs].map(([k, v]) => [k, Math.round(v)])) : undefined,
          });
        }
        break;
      }
      case 'stop':
        void worker.stop(10_000).then((clean) => {
          send({ type: 'stopped', clean });
          process.exit(0);
        });
        break;
      default:
    }
  });
  send({
    type: 'ready', pid: process.pid, consume: worker.topology.consume, deadLetterQueue: worker.topology.deadLetterQueue,
    config: { ...pick(config, ['prefetch', 'concurrency', 'libvirtConnections', 'logLevel', 'notificationFormat', 'queues', 'journal']), uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)', experiments },
  });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
