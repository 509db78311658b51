/**
 * `npm run bench`: hostwall against the bare amqplib path, one run, one
 * broker (AMQP_URL, default 127.0.0.1:5672), figures as ratios against the
 * baseline measured in the same run (issue #8).
 *
 *  1. baseline (bench/baseline-child.ts, a child process): N oslo casts
 *     preloaded into a queue of its own, then consumed; per message: parse
 *     the envelope, publish one confirmed event, ack. Then the latency run.
 *  2. hostwall (bench/worker-child.ts, a child process): the real Worker on
 *     libvirt's test driver. 200 instances spawned through the worker first;
 *     then the same N intents (power_off / power_on / reboot over the 200
 *     instances) preloaded while the worker holds its deliveries, released at
 *     once; done when every intent's intent.succeeded arrived on
 *     hostwall.events. The worker's RSS is sampled during that drain (20,000
 *     intents waiting by default). Then the latency run.
 *  3. latency (both): an open-loop publisher at a fixed rate (1,000/s) for
 *     a fixed time; publish → intent.succeeded event received, p50/p99.
 *  4. same messages (bench/baseline-child.ts with `extra`): the bare consumer
 *     again, now publishing per message copies of every message hostwall
 *     published for one intent (captured from the run's sink: accepted, Nova
 *     .start/.end, instance.state) and a real-sized intent.succeeded, on a
 *     queue the journal also records. The broker's share of hostwall's event
 *     contract with no hostwall code: the ceiling for any implementation of
 *     that contract here, and how much of the gap is hostwall's own.
 *  5. the floor (bench/baseline-child.ts with `work`, bench/floor-work.ts):
 *     the same messages, plus per intent what any implementation of
 *     hostwall's promise must also do: the libvirt calls on the same guests
 *     (test driver, inline, same FFI, same domain XML) and a durable record
 *     committed before them and after (SQLite WAL, group commit). What it
 *     lacks against hostwall is hostwall's own work (validation, lanes, Nova
 *     state and payloads, the log): `hostwall / floor` prints what that costs.
 *  6. the peer (bench/peer/nova_stack_peer.py): nova-compute's stack.
 *
 * Broker objects: everything is named after the run id and deleted at the
 * end. Nova notifications go to a capped queue of the run (x-max-length), not
 * to the shared versioned_notifications.* queues: this run uses a control
 * exchange of its own and detaches those queues from it; likewise the
 * journal's appends go to a stream of the run (divertJournal), not to the
 * shared hostwall.journal.
 *
 * Flags: --n 20000 --rate 1000 --latency-s 10 --instances 200 --quick
 *        --profile (node --cpu-prof on the worker child; summary printed)
 *        --set name=value (worker setting, e.g. --set logLevel=warn --set prefetch=50)
 *        --json (JSON on stdout, text on stderr) --out bench/results.json --keep-log --keep-state
 *        (the worker's log and intent store stay in the OS temp directory)
 * Environment: HWBENCH_CORK=1, HWBENCH_TRACE_STORE=1 (bench/experiments.ts), UV_THREADPOOL_SIZE.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as amqp from 'amqplib';
import { Child, LineChild } from './child';
import {
  AMQP_URL, brokerPid, CpuMeter, type CpuUse, deleteQueues, divertJournal, EventCollector, type Encoded, type Latency, type LatencyStats, mb, paced, pacedLatency, parseArgs, powerIntent, preload,
  procMemory, queueExists, rabbitStatus, runId, spawnIntent,
} from './common';
import { formatSummary, type ProfileSummary, summarise } from './profile-summary';
import type { BaselineSpec, CapturedMessage } from './baseline-child';
import type { WorkerChildSpec } from './worker-child';
import type { LoopReport } from './loop-meter';

const REPO = path.resolve(__dirname, '..', '..');
/** oslo's shared names the worker declares (and hostwall's journal stream): never deleted unless this run created them. */
const SHARED_QUEUES = ['compute', 'versioned_notifications.info', 'versioned_notifications.error', 'notifications.info', 'notifications.error'];
const JOURNAL = 'hostwall.journal';
/** Debian's interpreter, where python3-oslo.messaging, python3-libvirt and python3-nova are (not a python3 of PATH's). */
const PEER_PYTHON = process.env.HWBENCH_PEER_PYTHON ?? '/usr/bin/python3';
const PEER_SCRIPT = path.join(REPO, 'bench', 'peer', 'nova_stack_peer.py');

interface Throughput {
  intents: number;
  succeeded: number;
  failed: number;
  missing: number;
  seconds: number;
  per_s: number;
  first_errors: string[];
}

/** One of hostwall's messages of this run as the peer's template: the payload as text, with the ids the peer replaces per cast. */
interface PeerTemplate {
  event_type: string;
  publisher_id: string;
  payload: string;
  ids: Record<string, string | undefined>;
}

/** What bench/peer/nova_stack_peer.py is given (one JSON argument). */
interface PeerSpec {
  amqp_url: string;
  exchange: string;
  topic: string;
  server: string;
  host: string;
  prefetch: number;
  uuids: string[];
  log_path: string;
  libvirt_uri: string;
  topics: { nova: string; events: string; outcome: string };
  templates: Record<'intent.accepted' | 'start' | 'end' | 'instance.state' | 'intent.succeeded', PeerTemplate>;
}


interface Results {
  run_id: string;
  at: string;
  machine: { cpus: number; cpu_model: string; node: string; broker: string; load_avg_before: number[] };
  params: { n: number; rate: number; latency_s: number; instances: number; prefetch: number; worker_settings: Record<string, string>; uv_threadpool: string };
  baseline: { throughput: Throughput; latency: LatencyStats & { offered_per_s: number; achieved_per_s: number } };
  /** The bare consumer publishing hostwall's messages per intent (phase 4). */
  same_messages?: { messages_per_intent: number; captured: string[]; throughput: Throughput; latency: LatencyStats & { offered_per_s: number; achieved_per_s: number; consumer_loop: LoopReport } };
  /** The same messages plus the intent's libvirt calls and durable record (phase 5, bench/floor-work.ts). */
  floor?: { throughput: Throughput; latency: LatencyStats & { offered_per_s: number; achieved_per_s: number; consumer_loop: LoopReport } };
  /** Debian's oslo.messaging + libvirt-python + nova's lock doing the same contract (phase 5). */
  peer?: { stack: string; n: number; throughput: Throughput; latency: Latency; log_bytes: number; discarded_notifications: number };
  /** Why the peer phase gave no figures. */
  peer_error?: string;
  hostwall: {
    spawn: { instances: number; seconds: number; failed: number };
    throughput: Throughput;
    latency: LatencyStats & { offered_per_s: number; achieved_per_s: number; failed: number; missing: number; worker_loop?: Record<string, unknown> };
    memory: {
      rss_before_mb: number; peak_rss_mb: number; rss_after_mb: number; heap_used_mb: number; heap_total_mb: number; external_mb: number; vm_hwm_mb: number; samples: number; waiting: number;
    };
    event_loop_delay_during_drain: { p50_ms: number; p99_ms: number; max_ms: number };
    /** With HWBENCH_TRACE_STORE=1: the intent store's group commits during the drain. */
    store_commits_during_drain?: Record<string, number>;
    /** With HWBENCH_TRACE_LIBVIRT=1: libvirt calls (libuv pool round trips) during the drain, by function. */
    libvirt_calls_during_drain?: Record<string, number>;
    log: { bytes: number; bytes_per_intent: number; level: string };
    intent_store: { bytes: number; bytes_per_intent: number };
    config: Record<string, unknown>;
  };
  ratio: { throughput: number; p99_vs_baseline: number; throughput_vs_same_messages?: number; same_messages_vs_baseline?: number; floor_vs_same_messages?: number; throughput_vs_floor?: number; hostwall_vs_peer?: number };
  /** Cores busy per phase: the machine, the bench's processes plus the broker, and everything else (foreign load spoils a run). */
  cpu: Record<string, CpuUse>;
  /** CPU time per intent of the throughput phases, by process (ms): the consumer (bare consumer, worker or peer), the broker, the bench. */
  cpu_ms_per_intent?: Record<string, { consumer: number; broker: number; bench: number }>;
  warnings: string[];
  targets: { name: string; value: number; limit: string; pass: boolean }[];
  profile?: ProfileSummary;
  cleanup: { queues_deleted: number; exchange_deleted: boolean };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const { opts, sets } = parseArgs(process.argv.slice(2));
  const quick = opts.has('quick');
  const n = Number(opts.get('n') ?? (quick ? 5_000 : 20_000));
  const rate = Number(opts.get('rate') ?? 1_000);
  const latencyS = Number(opts.get('latency-s') ?? (quick ? 5 : 10));
  const instances = Number(opts.get('instances') ?? 200);
  const jsonOut = opts.has('json');
  const profile = opts.has('profile');
  const outFile = path.resolve(opts.get('out') ?? path.join(REPO, 'bench', 'results.json'));
  const prefetch = Number(sets.prefetch ?? 200);
  const withPeer = !opts.has('no-peer');
  const peerN = Number(opts.get('peer-n') ?? (quick ? 1_000 : 10_000));
  const peerLatencyS = Number(opts.get('peer-latency-s') ?? latencyS);
  const say = (s: string) => (jsonOut ? process.stderr.write(`${s}\n`) : console.log(s));

  const id = runId();
  const exchange = `hwbench.${id}`;
  const host = `hwbench-${id}`;
  const bhost = `hwbench-${id}-base`;
  const shost = `hwbench-${id}-same`;
  const fhost = `hwbench-${id}-floor`;
  const baseQueue = `hwbench.${id}.baseline`;
  const sameQueue = `hwbench.${id}.same`;
  const floorQueue = `hwbench.${id}.floor`;
  const eventsQueue = `hwbench.${id}.events`;
  const sinkQueue = `hwbench.${id}.sink`;
  // The worker's RPC topic: its own, so its topic queue is not the shared `compute` one, which other
  // workers on this broker bind to their exchanges (the bench's worker would take their casts).
  const topic = `hwbench.${id}.compute`;
  // The peer's oslo names: an RPC topic of its own, and three notification topics (oslo declares <topic>.<priority> queues).
  const peerTopic = `hwbench.${id}.peer`;
  const peerServer = `hwbench-${id}-peer`;
  const peerQueue = `${peerTopic}.${peerServer}`;
  const peerTopics = { nova: `hwbench.${id}.peer-notifications`, events: `hwbench.${id}.peer-events`, outcome: `hwbench.${id}.peer-outcome` };
  const peerLogPath = path.join(os.tmpdir(), `hwbench-${id}-peer.log`);
  const peerErrPath = path.join(os.tmpdir(), `hwbench-${id}-peer.stderr`);
  const instancesPath = path.join(os.tmpdir(), `hwbench-${id}-instances`);
  const logPath = path.join(os.tmpdir(), `hwbench-${id}-worker.log`);
  const statePath = path.join(os.tmpdir(), `hwbench-${id}-state`);
  const profDir = path.join(REPO, 'bench', 'profiles');
  const floorStorePath = path.join(os.tmpdir(), `hwbench-${id}-floor.sqlite`);
  const toDelete = new Set<string>([baseQueue, sameQueue, floorQueue, eventsQueue, sinkQueue]);
  if (withPeer) for (const q of [peerTopic, peerQueue, `${peerTopics.nova}.info`, `${peerTopics.events}.info`, `${peerTopics.outcome}.info`, `${peerTopics.outcome}.error`]) toDelete.add(q);
  const started = Date.now();

  const status = await rabbitStatus().catch(() => undefined);
  const broker = await brokerPid();
  const cpu: Record<string, CpuUse> = {};
  let meterPids: number[] = [];
  const meter = new CpuMeter(() => [process.pid, ...meterPids, ...(broker ? [broker] : [])]);
  say(`hostwall bench ${id}: n=${n}, latency ${rate}/s for ${latencyS} s, ${instances} instances, broker ${status?.version ?? '?'} at ${AMQP_URL.replace(/\/\/[^@]*@/, '//')}`);

  const pubConn = await amqp.connect(AMQP_URL, { noDelay: true, clientProperties: { connection_name: `hwbench-publisher:${id}` } });
  const evConn = await amqp.connect(AMQP_URL, { noDelay: true, clientProperties: { connection_name: `hwbench-events:${id}` } });
  const sharedBefore = new Map<string, boolean>();
  for (const q of [...SHARED_QUEUES, JOURNAL]) sharedBefore.set(q, await queueExists(pubConn, q));

  let baseChild: Child | undefined;
  /** The same-messages or floor consumer of the phase running. */
  let bareChild: Child | undefined;
  let wChild: Child | undefined;
  let peerChild: LineChild | undefined;
  let logFd: number | undefined;
  let peerErrFd: number | undefined;
  const cleanup = { queues_deleted: 0, exchange_deleted: false };
  try {
    const admin = await evConn.createChannel();
    // The control exchange as the worker declares it in the default (transient) queue mode.
    await admin.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
    await admin.assertExchange('hostwall.events', 'topic', { durable: true, autoDelete: false });
    await admin.assertQueue(eventsQueue, { exclusive: true, durable: false });
    for (const h of [host, bhost, shost, fhost]) for (const e of ['intent.succeeded', 'intent.failed', 'intent.rejected']) await admin.bindQueue(eventsQueue, 'hostwall.events', `${h}.${e}`);
    // Everything else the worker publishes is routed somewhere, as in a deployment with listeners, but capped.
    await admin.assertQueue(sinkQueue, { exclusive: true, durable: false, arguments: { 'x-max-length': 1000 } });
    for (const e of ['intent.accepted', 'instance.state']) await admin.bindQueue(sinkQueue, 'hostwall.events', `${host}.${e}`);
    for (const q of SHARED_QUEUES.slice(1)) await admin.bindQueue(sinkQueue, exchange, q);
    await admin.assertQueue(baseQueue, { durable: false, autoDelete: false });
    await admin.bindQueue(baseQueue, exchange, `compute.${bhost}`);
    await admin.assertQueue(sameQueue, { durable: false, autoDelete: false });
    await admin.bindQueue(sameQueue, exchange, `compute.${shost}`);
    await admin.assertQueue(floorQueue, { durable: false, autoDelete: false });
    await admin.bindQueue(floorQueue, exchange, `compute.${fhost}`);
    const collector = new EventCollector();
    await admin.consume(eventsQueue, collector.onMessage, { noAck: true });
    const pub = await pubConn.createConfirmChannel();

    const uuids = Array.from({ length: instances }, () => randomUUID());
    const latencyCount = Math.round(rate * latencyS);
    const drainTimeout = Number(opts.get('timeout-s') ?? 150) * 1000;

    /**
     * A bare consumer's phases (the same messages, the floor): N preloaded and drained, then the
     * latency run with the consumer's event-loop delay. A child that reports an error (the floor's
     * libvirt or store failing) fails the run at once instead of leaving the drain to time out.
     */
    const barePhase = async (phase: 'same_messages' | 'floor', spec: BaselineSpec) => {
      const child = new Child(path.join(__dirname, 'baseline-child.js'), spec);
      bareChild = child;
      await child.next('ready');
      const msgs = Array.from({ length: n }, (_, i) => powerIntent(exchange, spec.host, uuids, i));
      await preload(pub, msgs);
      meterPids = [child.pid];
      meter.start();
      const t0 = performance.now();
      child.send({ cmd: 'go' });
      // Only an error message (or the child's exit) settles this: it rejects every waiter.
      const failed = child.next('never', drainTimeout + 120_000);
      failed.catch(() => undefined);
      await Promise.race([collector.waitFor(msgs.map((m) => m.id), drainTimeout), failed]);
      cpu[`${phase}_throughput`] = meter.stop();
      const throughput = throughputOf(collector, msgs, t0);
      say(`  throughput: ${throughput.succeeded}/${n} in ${throughput.seconds} s = ${throughput.per_s}/s`);
      const latMsgs = Array.from({ length: latencyCount }, (_, i) => powerIntent(exchange, spec.host, uuids, n + i));
      meter.start();
      child.send({ cmd: 'loop', on: true });
      const latency = await latencyRun(collector, pub, latMsgs, rate);
      cpu[`${phase}_latency`] = meter.stop();
      child.send({ cmd: 'loop', on: false });
      const loop = (await child.next('loop')) as unknown as LoopReport;
      say(`  latency at ${rate}/s: p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms, max ${latency.max_ms} ms; its event-loop delay p99 ${loop.p99_ms} ms, GC ${JSON.stringify(loop.gc)}`);
      await child.stop({ cmd: 'stop' });
      return { pid: child.pid, throughput, latency: { ...latency, consumer_loop: loop } };
    };

    // ---- baseline -------------------------------------------------------------------------------------
    say('baseline: bare amqplib consumer (parse envelope, publish one confirmed event, ack)');
    const baseSpec: BaselineSpec = { amqpUrl: AMQP_URL, host: bhost, queue: baseQueue, prefetch };
    baseChild = new Child(path.join(__dirname, 'baseline-child.js'), baseSpec);
    await baseChild.next('ready');
    const baseMsgs = Array.from({ length: n }, (_, i) => powerIntent(exchange, bhost, uuids, i));
    await preload(pub, baseMsgs);
    meterPids = [baseChild.pid];
    const baseChildPid = baseChild.pid;
    meter.start();
    const bt0 = performance.now();
    baseChild.send({ cmd: 'go' });
    await collector.waitFor(baseMsgs.map((m) => m.id), drainTimeout);
    cpu.baseline_throughput = meter.stop();
    const baseThroughput = throughputOf(collector, baseMsgs, bt0);
    say(`  throughput: ${baseThroughput.succeeded}/${n} in ${baseThroughput.seconds} s = ${baseThroughput.per_s}/s`);
    const baseLatMsgs = Array.from({ length: latencyCount }, (_, i) => powerIntent(exchange, bhost, uuids, n + i));
    meter.start();
    const baseLatency = await latencyRun(collector, pub, baseLatMsgs, rate);
    cpu.baseline_latency = meter.stop();
    say(`  latency at ${rate}/s: p50 ${baseLatency.p50_ms} ms, p99 ${baseLatency.p99_ms} ms, max ${baseLatency.max_ms} ms`);
    await baseChild.stop({ cmd: 'stop' });

    // ---- hostwall ---------------------------------------------------------------------------------------
    say('hostwall: real Worker, libvirt test driver, in a child process');
    mkdirSync(profDir, { recursive: true });
    logFd = openSync(logPath, 'w');
    const spec: WorkerChildSpec = { amqpUrl: AMQP_URL, host, controlExchange: exchange, instancesPath, statePath, settings: { ...sets, topic } };
    // The node flags the shipped launcher starts with (bin/hostwall's #! line), or HWBENCH_WORKER_NODE_FLAGS instead.
    const nodeFlags = process.env.HWBENCH_WORKER_NODE_FLAGS ?? launcherNodeFlags();
    const execArgv = [
      ...nodeFlags.split(/\s+/).filter(Boolean),
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=worker-${id}.cpuprofile`] : []),
    ];
    wChild = new Child(path.join(__dirname, 'worker-child.js'), spec, { execArgv, stderrFd: logFd });
    const ready = await wChild.next('ready', 60_000);
    for (const q of ready.consume as string[]) if (!SHARED_QUEUES.includes(q)) toDelete.add(q);
    toDelete.add(String(ready.deadLetterQueue));
    // The worker bound the shared notification queues to this run's exchange: detach them (the sink gets those keys).
    for (const q of SHARED_QUEUES.slice(1)) {
      const ch = await evConn.createChannel();
      ch.on('error', () => undefined);
      await ch.unbindQueue(q, exchange, q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }

    // The journal: same broker work, on a stream of this run's (deleted at the end) instead of the shared one.
    let journalStream: string | undefined;
    if ((ready.config as { journal?: boolean }).journal === true) {
      journalStream = await divertJournal(evConn, exchange, `hwbench.${id}.journal`);
      toDelete.add(journalStream);
    }

    const spawns = uuids.map((u, i) => spawnIntent(exchange, host, u, i, topic));
    const st0 = performance.now();
    await preload(pub, spawns);
    await collector.waitFor(spawns.map((m) => m.id), 120_000);
    const spawnTally = collector.tally(spawns.map((m) => m.id));
    const spawnS = round((collector.lastArrival(spawns.map((m) => m.id)) - st0) / 1000, 2);
    say(`  spawned ${spawnTally.succeeded}/${instances} instances in ${spawnS} s`);
    if (spawnTally.succeeded !== instances) throw new Error(`spawns failed: ${JSON.stringify(spawnTally)}`);

    wChild.send({ cmd: 'gate', open: false });
    await wChild.next('gate');
    const hwMsgs = Array.from({ length: n }, (_, i) => powerIntent(exchange, host, uuids, i, undefined, topic));
    await preload(pub, hwMsgs);
    const before = procMemory(wChild.pid);
    wChild.send({ cmd: 'rss', on: true });
    meterPids = [wChild.pid];
    meter.start();
    const ht0 = performance.now();
    wChild.send({ cmd: 'gate', open: true });
    await collector.waitFor(hwMsgs.map((m) => m.id), drainTimeout);
    cpu.hostwall_throughput = meter.stop();
    const hwThroughput = throughputOf(collector, hwMsgs, ht0);
    wChild.send({ cmd: 'rss', on: false });
    const rss = await wChild.next('rss');
    say(`  throughput: ${hwThroughput.succeeded}/${n} in ${hwThroughput.seconds} s = ${hwThroughput.per_s}/s${hwThroughput.failed ? ` (${hwThroughput.failed} failed: ${hwThroughput.first_errors.join('; ')})` : ''}`);
    say(`  RSS with ${n} waiting: ${before?.rss_mb ?? '?'} MB before, peak ${mb(Number(rss.peak))} MB (at the end: JS heap ${mb(Number(rss.heapUsed))} MB used of ${mb(Number(rss.heapTotal))} MB, external ${mb(Number(rss.external))} MB)`);
    if (rss.at_peak) say(`  memory (MB) at the drain's start: ${JSON.stringify(rss.at_start)}; at its peak: ${JSON.stringify(rss.at_peak)}`);

    const hwLatMsgs = Array.from({ length: latencyCount }, (_, i) => powerIntent(exchange, host, uuids, n + i, undefined, topic));
    meter.start();
    wChild.send({ cmd: 'loop', on: true });
    const hwLatency = await latencyRun(collector, pub, hwLatMsgs, rate);
    cpu.hostwall_latency = meter.stop();
    wChild.send({ cmd: 'loop', on: false });
    const latLoop = await wChild.next('loop');
    say(`  latency at ${rate}/s: p50 ${hwLatency.p50_ms} ms, p99 ${hwLatency.p99_ms} ms, max ${hwLatency.max_ms} ms (achieved ${hwLatency.achieved_per_s}/s)`);
    say(`  worker during it: event-loop delay p50 ${latLoop.p50_ms} ms, p99 ${latLoop.p99_ms} ms, max ${latLoop.max_ms} ms; GC ${JSON.stringify(latLoop.gc)}`);
    const after = procMemory(wChild.pid);
    await wChild.stop({ cmd: 'stop' });
    closeSync(logFd);
    logFd = undefined;

    // ---- same messages ------------------------------------------------------------------------------------
    const captured = await captureMessages(admin, sinkQueue, host);
    const succeededSample = collector.samples.get(`${host} intent.succeeded`);
    say(`same messages: bare consumer publishing hostwall's ${captured.length + 1} messages per intent (${captured.map((c) => c.label).join(', ')}, intent.succeeded)`);
    const sameSpec: BaselineSpec = {
      amqpUrl: AMQP_URL, host: shost, queue: sameQueue, prefetch, extra: captured.map((c) => c.message),
      ...(succeededSample ? { succeeded: succeededSample.toString('utf8') } : {}),
    };
    const same = await barePhase('same_messages', sameSpec);

    // ---- the floor: the same messages, plus the intent's hypervisor calls and durable record ------------
    say(`floor: the same messages, plus per intent the libvirt calls (test:///default, inline, the same ${instances} guests) and a durable record (SQLite WAL, group commit) before and after them`);
    const floor = await barePhase('floor', { ...sameSpec, host: fhost, queue: floorQueue, work: { uuids, storePath: floorStorePath } });
    const { throughput: sameThroughput, latency: sameLatency } = same;
    const { throughput: floorThroughput, latency: floorLatency } = floor;

    // ---- peer: the stack nova-compute runs, doing the same contract --------------------------------------
    let peer: Results['peer'];
    let peerChildPid = -1;
    const templates = withPeer ? peerTemplates(captured, succeededSample, host, peerServer) : undefined;
    if (withPeer && !templates) say('peer: skipped (this run captured no message of some kind hostwall publishes per intent)');
    let peerError: string | undefined;
    if (withPeer && templates) try {
      say(`peer: Debian's oslo.messaging RPC server (threading executor) + nova's per-instance lock + libvirt-python (test:///default), 5 notifications per cast; ${peerN} intents`);
      const discardQueues = [`${peerTopics.nova}.info`, `${peerTopics.events}.info`];
      const outcomeQueues = [`${peerTopics.outcome}.info`, `${peerTopics.outcome}.error`];
      // Declared as oslo declares them (transient, no arguments), so its own declarations match.
      for (const q of [peerQueue, ...discardQueues, ...outcomeQueues]) {
        await admin.assertQueue(q, { durable: false, autoDelete: false });
        await admin.bindQueue(q, exchange, q);
      }
      if (journalStream) await admin.bindQueue(journalStream, exchange, `${peerTopic}.#`);
      // Listeners of the other four notifications (hostwall's go to a capped queue; oslo's queues have no cap to match).
      let discarded = 0;
      for (const q of discardQueues) await admin.consume(q, () => void discarded++, { noAck: true });
      for (const q of outcomeQueues) await admin.consume(q, collector.onMessage, { noAck: true });
      const peerSpec: PeerSpec = {
        amqp_url: AMQP_URL, exchange, topic: peerTopic, server: peerServer, host: peerServer, prefetch, uuids, log_path: peerLogPath,
        libvirt_uri: 'test:///default', topics: peerTopics, templates,
      };
      peerErrFd = openSync(peerErrPath, 'w');
      peerChild = new LineChild(PEER_PYTHON, [PEER_SCRIPT, JSON.stringify(peerSpec)], { stderrFd: peerErrFd, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
      await peerChild.next('ready', 120_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; ${peerErrPath}: ${tail(peerErrPath)}`);
      });
      const route = { routingKey: peerQueue };
      const peerMsgs = Array.from({ length: peerN }, (_, i) => powerIntent(exchange, peerServer, uuids, i, route));
      await preload(pub, peerMsgs);
      meterPids = [peerChild.pid];
      peerChildPid = peerChild.pid;
      meter.start();
      const pt0 = performance.now();
      peerChild.send({ cmd: 'go' });
      const all = await collector.waitFor(peerMsgs.map((m) => m.id), Math.max(drainTimeout, peerN * 50));
      cpu.peer_throughput = meter.stop();
      if (!all) say(`  WARNING not every intent had its outcome in time; ${peerErrPath}: ${tail(peerErrPath)}`);
      const peerThroughput = throughputOf(collector, peerMsgs, pt0);
      say(`  throughput: ${peerThroughput.succeeded}/${peerN} in ${peerThroughput.seconds} s = ${peerThroughput.per_s}/s${peerThroughput.failed ? ` (${peerThroughput.failed} failed: ${peerThroughput.first_errors.join('; ')})` : ''}`);
      const peerLatMsgs = Array.from({ length: Math.round(rate * peerLatencyS) }, (_, i) => powerIntent(exchange, peerServer, uuids, peerN + i, route));
      meter.start();
      const peerLatency = await latencyRun(collector, pub, peerLatMsgs, rate, Math.max(60_000, (peerLatMsgs.length / Math.max(1, peerThroughput.per_s)) * 2000));
      cpu.peer_latency = meter.stop();
      say(`  latency at ${rate}/s for ${peerLatencyS} s: p50 ${peerLatency.p50_ms} ms, p99 ${peerLatency.p99_ms} ms, max ${peerLatency.max_ms} ms (achieved ${peerLatency.achieved_per_s}/s${peerLatency.achieved_per_s < rate * 0.95 ? ': saturated, the latency is the backlog' : ''})`);
      await peerChild.stop({ cmd: 'stop' }, 30_000);
      peer = {
        stack: 'Debian python3-oslo.messaging 14 RPC server (threading) + Notifier messagingv2, nova.utils.synchronized, python3-libvirt on test:///default',
        n: peerN, throughput: peerThroughput, latency: peerLatency, log_bytes: existsSync(peerLogPath) ? statSync(peerLogPath).size : 0, discarded_notifications: discarded,
      };
    } catch (err) {
      // The peer is a comparison: its failure (no Debian python, a broker hiccup) still leaves hostwall's figures.
      peerError = err instanceof Error ? err.message : String(err);
      say(`  peer failed: ${peerError}`);
      await peerChild?.stop({ cmd: 'stop' }, 10_000);
    }
    const logBytes = existsSync(logPath) ? statSync(logPath).size : 0;
    const storeBytes = dirBytes(statePath);
    const totalIntents = instances + n + latencyCount;

    let profileSummary: ProfileSummary | undefined;
    if (profile) {
      const f = readdirSync(profDir).find((x) => x === `worker-${id}.cpuprofile`);
      if (f) {
        profileSummary = summarise(path.join(profDir, f), 25);
        say(formatSummary(profileSummary));
      } else say('  (no profile written)');
    }

    const ratio = round(hwThroughput.per_s / baseThroughput.per_s, 3);
    const vsSame = round(hwThroughput.per_s / sameThroughput.per_s, 3);
    const peakMb = mb(Number(rss.peak));
    const loopP99 = Number(latLoop.p99_ms);
    const p99Limit = round(sameLatency.p99_ms + 5, 2);
    const vsPeer = peer ? round(hwThroughput.per_s / peer.throughput.per_s, 1) : undefined;
    // Issue 16's targets, each a ratio or a difference within this run (the machine's speed cancels out).
    const targets = [
      { name: 'throughput >= 0.9 x the same messages (the ceiling)', value: vsSame, limit: '>= 0.9', pass: vsSame >= 0.9 },
      {
        name: `p99 publish -> intent.succeeded at ${rate}/s <= same messages' p99 + 5 ms (${sameLatency.p99_ms} + 5 = ${p99Limit} ms)`, value: hwLatency.p99_ms, limit: `<= ${p99Limit} ms`,
        pass: hwLatency.p99_ms <= p99Limit && hwLatency.missing === 0 && hwLatency.failed === 0,
      },
      { name: `worker event-loop delay p99 at ${rate}/s <= 5 ms`, value: loopP99, limit: '<= 5 ms', pass: loopP99 <= 5 },
      { name: `peak RSS with ${n} intents waiting <= 150 MB`, value: peakMb, limit: '<= 150 MB', pass: peakMb <= 150 },
      ...(withPeer ? [{ name: `hostwall / peer (nova-compute's stack, same contract) throughput >= 15 (goal)${peer ? '' : ': the peer did not run'}`, value: vsPeer ?? Number.NaN, limit: '>= 15', pass: vsPeer !== undefined && vsPeer >= 15 }] : []),
    ];
    const results: Results = {
      run_id: id,
      at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? '?', node: process.version, broker: `RabbitMQ ${status?.version ?? '?'}`, load_avg_before: os.loadavg().map((x) => round(x, 2)) },
      params: { n, rate, latency_s: latencyS, instances, prefetch, worker_settings: sets, uv_threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' },
      baseline: { throughput: baseThroughput, latency: baseLatency },
      same_messages: { messages_per_intent: captured.length + 1, captured: captured.map((c) => c.label), throughput: sameThroughput, latency: same.latency },
      floor: { throughput: floorThroughput, latency: floor.latency },
      ...(peer ? { peer } : {}),
      ...(peerError ? { peer_error: peerError } : {}),
      hostwall: {
        spawn: { instances, seconds: spawnS, failed: spawnTally.failed },
        throughput: hwThroughput,
        latency: { ...hwLatency, worker_loop: latLoop },
        memory: {
          rss_before_mb: before?.rss_mb ?? Number.NaN, peak_rss_mb: peakMb, rss_after_mb: after?.rss_mb ?? Number.NaN, heap_used_mb: mb(Number(rss.heapUsed)),
          heap_total_mb: mb(Number(rss.heapTotal)), external_mb: mb(Number(rss.external)), vm_hwm_mb: after?.hwm_mb ?? Number.NaN, samples: Number(rss.samples), waiting: n,
        },
        event_loop_delay_during_drain: rss.loop as { p50_ms: number; p99_ms: number; max_ms: number },
        ...(rss.store ? { store_commits_during_drain: rss.store as Record<string, number> } : {}),
        ...(rss.libvirt ? { libvirt_calls_during_drain: rss.libvirt as Record<string, number> } : {}),
        log: { bytes: logBytes, bytes_per_intent: Math.round(logBytes / totalIntents), level: String((ready.config as { logLevel?: string }).logLevel) },
        intent_store: { bytes: storeBytes, bytes_per_intent: Math.round(storeBytes / totalIntents) },
        config: { ...(ready.config as Record<string, unknown>), node_flags: nodeFlags },
      },
      ratio: {
        throughput: ratio, p99_vs_baseline: round(hwLatency.p99_ms / baseLatency.p99_ms, 2),
        throughput_vs_same_messages: vsSame, same_messages_vs_baseline: round(sameThroughput.per_s / baseThroughput.per_s, 3),
        floor_vs_same_messages: round(floorThroughput.per_s / sameThroughput.per_s, 3), throughput_vs_floor: round(hwThroughput.per_s / floorThroughput.per_s, 3),
        ...(vsPeer !== undefined ? { hostwall_vs_peer: vsPeer } : {}),
      },
      cpu,
      warnings: Object.entries(cpu)
        .filter(([, c]) => c.foreign_cores + c.steal_cores > 0.2)
        .map(([phase, c]) => `${phase}: other processes used ${c.foreign_cores} cores (steal ${c.steal_cores}) of ${os.cpus().length}; figures of this run are not comparable`),
      targets,
      ...(profileSummary ? { profile: profileSummary } : {}),
      cleanup,
    };

    say('');
    say(`                         baseline      hostwall     ratio    same messages   hostwall/same`);
    say(`  throughput (/s)     ${String(baseThroughput.per_s).padStart(10)}    ${String(hwThroughput.per_s).padStart(10)}    ${String(ratio).padEnd(5)}    ${String(sameThroughput.per_s).padStart(13)}   ${results.ratio.throughput_vs_same_messages}`);
    say(`  p50 at ${rate}/s (ms) ${String(baseLatency.p50_ms).padStart(9)}    ${String(hwLatency.p50_ms).padStart(10)}             ${String(sameLatency.p50_ms).padStart(13)}`);
    say(`  p99 at ${rate}/s (ms) ${String(baseLatency.p99_ms).padStart(9)}    ${String(hwLatency.p99_ms).padStart(10)}    ${String(results.ratio.p99_vs_baseline).padEnd(5)}    ${String(sameLatency.p99_ms).padStart(13)}`);
    say(`  the same messages alone reach ${results.ratio.same_messages_vs_baseline} x baseline: the ceiling of hostwall's event contract (${captured.length + 1} confirmed publishes per intent) on this broker`);
    say(`  the floor (same messages + the intent's libvirt calls + its durable record, nothing else): ${floorThroughput.per_s}/s = ${results.ratio.floor_vs_same_messages} x the same messages, p99 at ${rate}/s ${floorLatency.p99_ms} ms, event-loop delay p99 ${floorLatency.consumer_loop.p99_ms} ms; hostwall / floor = ${results.ratio.throughput_vs_floor} (what hostwall's own work costs)`);
    if (peer) say(`  peer (nova-compute's stack, same contract): ${peer.throughput.per_s}/s over ${peer.n} intents, p99 at ${rate}/s ${peer.latency.p99_ms} ms (achieved ${peer.latency.achieved_per_s}/s); hostwall / peer = ${vsPeer}`);
    say(`  worker during the latency run: event-loop delay p99 ${loopP99} ms, GC ${JSON.stringify(latLoop.gc)}`);
    say(`  worker peak RSS, ${n} waiting: ${peakMb} MB (VmHWM over the whole run ${after?.hwm_mb ?? '?'} MB); event-loop delay during the drain p99 ${round(Number((rss.loop as { p99_ms: number }).p99_ms), 2)} ms, max ${round(Number((rss.loop as { max_ms: number }).max_ms), 1)} ms`);
    say(`  worker log: ${logBytes} bytes, ${results.hostwall.log.bytes_per_intent} bytes/intent at level ${results.hostwall.log.level}; intent store on disk: ${storeBytes} bytes, ${results.hostwall.intent_store.bytes_per_intent} bytes/intent`);
    say(`  CPU (cores) per phase, bench+broker / interrupts / other processes / steal: ${Object.entries(cpu).map(([k, c]) => `${k} ${c.bench_and_broker_cores}/${c.irq_cores}/${c.foreign_cores}/${c.steal_cores}`).join(', ')}`);
    // CPU time per intent by process: steadier than wall clock on a shared machine, and it says whose the cost is.
    const perIntent = (phase: string, pid: number | undefined, count: number) => {
      const used = pid === undefined ? undefined : cpu[phase]?.cpu_s_by_pid[String(pid)];
      return used === undefined ? Number.NaN : round((used * 1000) / count, 3);
    };
    const cpuRows: [string, string, number, number][] = [
      ['baseline', 'baseline_throughput', baseChildPid, n],
      ['same messages', 'same_messages_throughput', same.pid, n],
      ['floor', 'floor_throughput', floor.pid, n],
      ['hostwall', 'hostwall_throughput', wChild.pid, n],
      ...(peer ? ([['peer', 'peer_throughput', peerChildPid, peer.n]] as [string, string, number, number][]) : []),
    ];
    results.cpu_ms_per_intent = Object.fromEntries(cpuRows.map(([label, phase, pid, count]) => [label, { consumer: perIntent(phase, pid, count), broker: perIntent(phase, broker, count), bench: perIntent(phase, process.pid, count) }]));
    say(`  CPU ms per intent in the throughput phases (consumer + broker + this bench's publisher/collector): ${cpuRows.map(([label]) => {
      const c = results.cpu_ms_per_intent?.[label];
      return `${label} ${c?.consumer} + ${c?.broker} + ${c?.bench}`;
    }).join('; ')}`);
    for (const w of results.warnings) say(`  WARNING ${w}`);
    if (rss.libvirt) {
      const calls = rss.libvirt as Record<string, number>;
      const total = Object.values(calls).reduce((a, b) => a + b, 0);
      say(`  libvirt calls during the drain (HWBENCH_TRACE_LIBVIRT): ${total} = ${round(total / n, 2)} per intent: ${JSON.stringify(calls)}`);
      if (rss.libvirt_ms) say(`  ms on the JS thread by call (inline test driver): ${JSON.stringify(rss.libvirt_ms)}`);
    }
    if (rss.store) say(`  intent store group commits during the drain (HWBENCH_TRACE_STORE): ${JSON.stringify(rss.store)}`);
    for (const t of targets) say(`  [${t.pass ? 'PASS' : 'FAIL'}] ${t.name}: ${t.value}`);

    await cleanupBroker();
    say(`  cleanup: ${cleanup.queues_deleted} queues deleted, exchange ${exchange} deleted: ${cleanup.exchange_deleted}; ${round((Date.now() - started) / 1000)} s in all`);
    writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
    say(`  results: ${path.relative(process.cwd(), outFile)}`);
    if (jsonOut) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await baseChild?.stop({ cmd: 'stop' }, 5_000);
    await bareChild?.stop({ cmd: 'stop' }, 5_000);
    for (const f of [floorStorePath, `${floorStorePath}-wal`, `${floorStorePath}-shm`]) rmSync(f, { force: true });
    await peerChild?.stop({ cmd: 'stop' }, 30_000);
    if (peerErrFd !== undefined) closeSync(peerErrFd);
    await wChild?.stop({ cmd: 'stop' }, 15_000);
    if (logFd !== undefined) closeSync(logFd);
    if (!cleanup.exchange_deleted) await cleanupBroker().catch((err: unknown) => console.error(`cleanup failed: ${String(err)}`));
    rmSync(instancesPath, { recursive: true, force: true });
    if (!opts.has('keep-state')) rmSync(statePath, { recursive: true, force: true });
    if (!opts.has('keep-log')) for (const f of [logPath, peerLogPath, peerErrPath]) rmSync(f, { force: true });
    await pubConn.close().catch(() => undefined);
    await evConn.close().catch(() => undefined);
  }

  async function cleanupBroker(): Promise<void> {
    cleanup.queues_deleted = await deleteQueues(pubConn, toDelete);
    // Shared oslo names this run created (none existed before): only if nobody uses them and they are empty.
    // Not `compute`: the worker serves the run's own topic, so a `compute` queue is someone else's.
    cleanup.queues_deleted += await deleteQueues(pubConn, SHARED_QUEUES.filter((q) => q !== 'compute' && sharedBefore.get(q) === false), true);
    // A stream is never empty once written: deleted only if this run created it and nobody consumes it.
    if (sharedBefore.get(JOURNAL) === false) cleanup.queues_deleted += await deleteQueues(pubConn, [JOURNAL], 'unused');
    const ch = await pubConn.createChannel();
    ch.on('error', () => undefined);
    await ch.deleteExchange(exchange).then(() => {
      cleanup.exchange_deleted = true;
    }, () => undefined);
    await ch.close().catch(() => undefined);
  }
}

/**
 * One of each kind of message hostwall published for an intent besides its
 * outcome, from the run's capped sink: intent.accepted, instance.state, and
 * each Nova notification topic's .start and .end. Sampled after the latency
 * phase, so they are power intents' messages at their real sizes.
 */
async function captureMessages(ch: amqp.Channel, sinkQueue: string, host: string): Promise<{ label: string; message: CapturedMessage }[]> {
  const found = new Map<string, CapturedMessage>();
  for (let i = 0; i < 1000; i++) {
    const m = await ch.get(sinkQueue, { noAck: true });
    if (!m) break;
    const rk = m.fields.routingKey;
    let label: string | undefined;
    if (rk === `${host}.intent.accepted` || rk === `${host}.instance.state`) label = rk.slice(host.length + 1);
    else if (/notifications\.(info|error)$/.test(rk)) {
      try {
        const outer = JSON.parse(m.content.toString('utf8')) as { 'oslo.message'?: string };
        const type = String((JSON.parse(outer['oslo.message'] ?? '{}') as { event_type?: string }).event_type ?? '');
        const phase = /\.(start|end)$/.exec(type)?.[1];
        if (phase) label = `${rk} .${phase}`;
      } catch {
        // not an oslo notification: not one of hostwall's
      }
    }
    if (label && !found.has(label)) {
      found.set(label, { exchange: m.fields.exchange, routingKey: rk, body: m.content.toString('base64'), contentType: m.properties.contentType, contentEncoding: m.properties.contentEncoding });
    }
  }
  return [...found].sort(([a], [b]) => a.localeCompare(b)).map(([label, message]) => ({ label, message }));
}

/**
 * The peer's five notifications per cast from the messages hostwall published in this run: the payload
 * (for Nova's, the payload inside oslo's envelope; hostwall's own events are their payload whole), its
 * event type and publisher, and the ids in it the peer replaces per cast. Undefined if one is missing.
 */
function peerTemplates(captured: { label: string; message: CapturedMessage }[], succeeded: Buffer | undefined, host: string, peerHost: string): PeerSpec['templates'] | undefined {
  const native = (body: string): PeerTemplate => {
    const ev = JSON.parse(body) as Record<string, unknown>;
    const ids = { intent_id: str(ev.intent_id), request_id: str(ev.request_id), instance_uuid: str(ev.instance_uuid), host };
    return { event_type: String(ev.event), publisher_id: `hostwall:${peerHost}`, payload: body, ids };
  };
  const nova = (body: string): PeerTemplate => {
    const inner = JSON.parse(String((JSON.parse(body) as Record<string, unknown>)['oslo.message'])) as Record<string, unknown>;
    const payload = inner.payload as Record<string, unknown>;
    const data = (payload['nova_object.data'] ?? payload) as Record<string, unknown>;
    const ids = { request_id: str(inner._context_request_id), instance_uuid: str(data.uuid ?? data.instance_id), host };
    return { event_type: String(inner.event_type), publisher_id: String(inner.publisher_id).replace(host, peerHost), payload: JSON.stringify(payload), ids };
  };
  const find = (re: RegExp) => captured.find((c) => re.test(c.label))?.message.body;
  const text = (b64: string | undefined) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'));
  const accepted = text(find(/^intent\.accepted$/));
  const state = text(find(/^instance\.state$/));
  const start = text(find(/versioned_notifications.* \.start$/) ?? find(/ \.start$/));
  const end = text(find(/versioned_notifications.* \.end$/) ?? find(/ \.end$/));
  if (!accepted || !state || !start || !end || !succeeded) return undefined;
  return { 'intent.accepted': native(accepted), start: nova(start), end: nova(end), 'instance.state': native(state), 'intent.succeeded': native(succeeded.toString('utf8')) };
}

const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);

/** The node flags on bin/hostwall's `#!/usr/bin/env -S node ...` line: the worker child runs as the launcher starts it. */
function launcherNodeFlags(): string {
  const first = readFileSync(path.join(REPO, 'bin', 'hostwall'), 'utf8').split('\n', 1)[0] ?? '';
  return /\bnode\s+(.*)$/.exec(first)?.[1]?.trim() ?? '';
}

/** The last lines of a file (the peer's stderr), for an error message. */
function tail(file: string, bytes = 3000): string {
  try {
    const s = readFileSync(file, 'utf8');
    return s.slice(-bytes);
  } catch {
    return '(none)';
  }
}

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
}

function throughputOf(c: EventCollector, msgs: Encoded[], t0: number): Throughput {
  const ids = msgs.map((m) => m.id);
  const t = c.tally(ids);
  const last = c.lastArrival(ids);
  const seconds = round((last - t0) / 1000, 3);
  return { intents: msgs.length, succeeded: t.succeeded, failed: t.failed, missing: t.missing, seconds, per_s: Math.round((t.succeeded + t.failed) / seconds), first_errors: t.firstErrors };
}

async function latencyRun(c: EventCollector, ch: amqp.ConfirmChannel, msgs: Encoded[], rate: number, timeoutMs = 60_000): Promise<Latency> {
  const t0 = performance.now();
  const sentAt = await paced(ch, msgs, rate);
  await c.waitFor(msgs.map((m) => m.id), timeoutMs);
  return pacedLatency(c, msgs, sentAt, t0, rate);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
