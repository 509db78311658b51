/**
 * `npm run bench:scale`: many simulated hosts on one broker, bounded.
 *
 *  - connection probe: opens up to --probe connections (default 300, never
 *    past the broker's socket limit minus a margin), with two channels each
 *    like a worker's, and reads the broker's memory before and after: what a
 *    connection per host costs, and how many this broker can take at all.
 *  - --hosts simulated hosts (default 1,000) in --procs child processes
 *    (default 4), each host a real Worker (own config, intent store, queues,
 *    consumer channel), sharing per process one libvirt test driver and
 *    --conns-per-proc AMQP connections (default 10: 25 hosts per connection).
 *  - broker counts while they all run (rabbitmqctl list_queues /
 *    list_connections / list_channels / list_consumers).
 *  - one instance spawned per host; then a fan-out of intents to random
 *    hosts: an open-loop run at --rate/s for --duration s (latency publish →
 *    intent.succeeded, p50/p99), then a burst of --burst intents published as
 *    fast as possible (end-to-end throughput).
 *  - --cluster: against the private three-node cluster of
 *    scripts/rabbitmq-cluster.sh (started if it is not) instead of the local
 *    broker: each child process gets oslo's multi-host transport_url with a
 *    different node first, so the hosts' connections and the leaders of
 *    their quorum queues (queues=quorum unless --set queues=... says
 *    otherwise) are spread over the nodes; per node, connections, queue
 *    replicas, leaders and memory are printed; then a second open-loop run
 *    during which one node (--stop-node, default hw2) is stopped halfway
 *    (the hosts connected to it move to the next node of their URL), and
 *    started again after. The probes are off unless asked for.
 *  - everything it made is deleted: compute.<host>, the fanout queue and
 *    hostwall.dead.<host> of every host, the run's exchange and queues, the
 *    state and instance directories; then the broker is counted again.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as amqp from 'amqplib';
import { Child } from './child';
import {
  AMQP_URL, brokerPid, CpuMeter, deleteQueues, divertJournal, EventCollector, type Encoded, encodeCast, paced, pacedLatency, parseArgs, POWER_MIX, preload, procMemory,
  queueExists, rabbitList, rabbitStatus, runId, sleep, spawnIntent,
} from './common';
import { Cluster, NODES, type NodeFigures, type NodeName, nodeUrl, transportUrl } from '../test/cluster/harness/cluster';
import type { ScaleChildSpec } from './scale-child';

const REPO = path.resolve(__dirname, '..', '..');
const SHARED_QUEUES = ['compute', 'versioned_notifications.info', 'versioned_notifications.error', 'notifications.info', 'notifications.error', 'hostwall.journal'];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface BrokerCounts {
  queues_total: number;
  queues_of_run: number;
  connections_total: number;
  connections_of_run: number;
  channels_total: number;
  consumers_total: number;
  consumers_of_run: number;
  sockets_used: number;
  sockets_limit: number;
  memory_mb: number;
}

/** `ours`: the run's queue names (fanout queue names carry no run id). */
async function brokerCounts(id: string, ours: ReadonlySet<string>, node?: string): Promise<BrokerCounts> {
  const [queues, conns, chans, consumers, status] = await Promise.all([
    rabbitList('list_queues', ['name'], node),
    rabbitList('list_connections', ['client_properties'], node),
    rabbitList('list_channels', ['number'], node),
    rabbitList('list_consumers', ['queue_name'], node),
    rabbitStatus(node),
  ]);
  const mine = (s: string | undefined) => (s ?? '').includes(id) || ours.has(s ?? '');
  return {
    queues_total: queues.length,
    queues_of_run: queues.filter((r) => mine(r[0])).length,
    connections_total: conns.length,
    connections_of_run: conns.filter((r) => mine(r.join(' '))).length,
    channels_total: chans.length,
    consumers_total: consumers.length,
    consumers_of_run: consumers.filter((r) => mine(r[0])).length,
    sockets_used: status.sockets_used,
    sockets_limit: status.sockets_limit,
    memory_mb: status.memory_mb,
  };
}

const nodeLine = (f: Record<NodeName, NodeFigures>) =>
  NODES.map((n) => { const x = f[n]; return `${n} ${x.up ? '' : '(down) '}${x.connections} conns, ${x.replicas} queue replicas, ${x.leaders} leaders, ${x.memoryMb} MB`; }).join('; ');

/** The nodes in URL order for child process `p`: a different node first for each. */
const rotated = (p: number): NodeName[] => NODES.map((_, i) => NODES[(p + i) % NODES.length] ?? 'hw1');

async function main(): Promise<void> {
  const { opts, sets } = parseArgs(process.argv.slice(2));
  const cluster = opts.has('cluster') ? new Cluster() : undefined;
  const stopNode = (opts.get('stop-node') ?? 'hw2') as NodeName;
  if (cluster && !NODES.includes(stopNode)) throw new Error(`--stop-node must be one of ${NODES.join(', ')}`);
  // The bench's own connections go to a node that is never stopped.
  const benchNode: NodeName = NODES.find((n) => n !== stopNode) ?? 'hw1';
  const brokerUrl = cluster ? nodeUrl(benchNode) : AMQP_URL;
  const ctlNode = cluster ? `${benchNode}@localhost` : undefined;
  if (cluster && sets.queues === undefined) sets.queues = 'quorum';
  const hosts = Number(opts.get('hosts') ?? 1000);
  const procs = Number(opts.get('procs') ?? (opts.has('cluster') ? 3 : 4));
  const connsPerProc = Number(opts.get('conns-per-proc') ?? 10);
  const rate = Number(opts.get('rate') ?? 1000);
  const duration = Number(opts.get('duration') ?? 15);
  const burst = Number(opts.get('burst') ?? 10_000);
  const probeWanted = Number(opts.get('probe') ?? (cluster ? 0 : 300));
  const queueProbe = Number(opts.get('queue-probe') ?? (cluster ? 0 : 200));
  const jsonOut = opts.has('json');
  const outFile = path.resolve(opts.get('out') ?? path.join(REPO, 'bench', 'scale-results.json'));
  const say = (s: string) => (jsonOut ? process.stderr.write(`${s}\n`) : console.log(s));
  const started = Date.now();

  const id = runId();
  const exchange = `hwscale.${id}`;
  const hostNames = Array.from({ length: hosts }, (_, i) => `hws-${id}-${i}`);
  const eventsQueue = `hwscale.${id}.events`;
  const sinkQueue = `hwscale.${id}.sink`;
  const statePath = path.join(os.tmpdir(), `hwscale-${id}-state`);
  const instancesPath = path.join(os.tmpdir(), `hwscale-${id}-instances`);
  const logPath = path.join(os.tmpdir(), `hwscale-${id}-workers.log`);
  const toDelete = new Set<string>([eventsQueue, sinkQueue]);
  say(`hostwall scale ${id}: ${hosts} hosts in ${procs} processes x ${connsPerProc} connections, fan-out ${rate}/s for ${duration} s, burst ${burst}${cluster ? `; on the three-node cluster (queues=${sets.queues})` : ''}`);
  if (cluster) await cluster.up();

  const pubConn = await amqp.connect(brokerUrl, { noDelay: true, clientProperties: { connection_name: `hwscale-publisher:${id}` } });
  const evConn = await amqp.connect(brokerUrl, { noDelay: true, clientProperties: { connection_name: `hwscale-events:${id}` } });
  const sharedBefore = new Map<string, boolean>();
  for (const q of SHARED_QUEUES) sharedBefore.set(q, await queueExists(pubConn, q));
  const children: Child[] = [];
  let logFd: number | undefined;
  const result: Record<string, unknown> = { run_id: id, at: new Date().toISOString(), params: { hosts, procs, conns_per_proc: connsPerProc, rate, duration, burst, settings: sets, cluster: cluster !== undefined } };
  const perNode: Record<string, unknown> = {};
  if (cluster) {
    result.per_node = perNode;
    perNode.before = await cluster.perNode();
  }

  try {
    // ---- what a queue costs, per type (single node here: one replica each) ----------------------------
    // First, while the broker is quiet: its memory figures are snapshots, and closing connections frees memory late.
    if (queueProbe > 0) {
      const ch = await pubConn.createChannel();
      const perType: Record<string, unknown> = {};
      for (const [type, args] of [['classic', {}], ['quorum', { 'x-queue-type': 'quorum' }]] as const) {
        await sleep(1000);
        const q0 = await rabbitStatus(ctlNode);
        const names = Array.from({ length: queueProbe }, (_, i) => `hwscale.${id}.probe-${type}-${i}`);
        const t0 = performance.now();
        for (const n of names) await ch.assertQueue(n, { durable: type === 'quorum', arguments: args });
        const declareMs = (performance.now() - t0) / queueProbe;
        await sleep(1000);
        const q1 = await rabbitStatus(ctlNode);
        const delta = (keys: string[]) => keys.reduce((a, k) => a + ((q1.memory[k] ?? 0) - (q0.memory[k] ?? 0)), 0) / queueProbe / 1024;
        perType[type] = {
          declared: queueProbe, declare_ms_each: round(declareMs, 2),
          kb_each_queue_processes: Math.round(delta(['queue_procs', 'quorum_queue_procs'])),
          kb_each_incl_ets_and_metrics: Math.round(delta(['queue_procs', 'quorum_queue_procs', 'quorum_ets', 'metrics', 'other_ets', 'mnesia'])),
        };
        await deleteQueues(pubConn, names);
      }
      await ch.close().catch(() => undefined);
      result.queue_probe = perType;
      say(`queue probe (idle queues, one replica each on this single node): ${JSON.stringify(perType)}`);
    }

    // ---- what a connection costs, and how many fit -------------------------------------------------
    await sleep(1000);
    const before = await rabbitStatus(ctlNode);
    const probeN = Math.max(0, Math.min(probeWanted, before.sockets_limit - before.sockets_used - 200));
    if (probeN > 0) {
      const t0 = performance.now();
      const conns: amqp.ChannelModel[] = [];
      for (let i = 0; i < probeN; i++) {
        const c = await amqp.connect(brokerUrl, { noDelay: true, clientProperties: { connection_name: `hwscale-probe:${id}:${i}` } });
        await c.createChannel();
        await c.createConfirmChannel();
        conns.push(c);
      }
      const openMs = (performance.now() - t0) / probeN;
      const during = await rabbitStatus(ctlNode);
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      const perConnKb = (during.connection_memory_kb - before.connection_memory_kb) / probeN;
      result.connection_probe = {
        opened: probeN, open_ms_each: round(openMs, 2), broker_memory_before_mb: before.memory_mb, broker_memory_with_probe_mb: during.memory_mb,
        connection_memory_kb_before: before.connection_memory_kb, connection_memory_kb_with_probe: during.connection_memory_kb,
        per_connection_kb: Math.round(perConnKb), sockets_limit: before.sockets_limit, sockets_used_before: before.sockets_used, fd_limit: before.fd_limit,
        connections_possible_here: before.sockets_limit - before.sockets_used,
      };
      say(`connection probe: ${probeN} connections (2 channels each) opened at ${round(openMs, 2)} ms each; broker RSS ${before.memory_mb} -> ${during.memory_mb} MB, connection processes ${before.connection_memory_kb} -> ${during.connection_memory_kb} KB (~${Math.round(perConnKb)} KB per connection with 2 channels); socket limit ${before.sockets_limit} (${before.sockets_used} in use): at most ~${before.sockets_limit - before.sockets_used} more connections on this broker`);
    }

    // ---- the run's own objects --------------------------------------------------------------------
    const admin = await evConn.createChannel();
    // Durable as the workers will declare it (oslo makes the control exchange durable with durable or quorum queues).
    await admin.assertExchange(exchange, 'topic', { durable: (sets.queues ?? 'transient') !== 'transient', autoDelete: false });
    await admin.assertExchange('hostwall.events', 'topic', { durable: true, autoDelete: false });
    await admin.assertQueue(eventsQueue, { exclusive: true, durable: false });
    for (const e of ['intent.succeeded', 'intent.failed', 'intent.rejected']) await admin.bindQueue(eventsQueue, 'hostwall.events', `#.${e}`);
    await admin.assertQueue(sinkQueue, { exclusive: true, durable: false, arguments: { 'x-max-length': 1000 } });
    for (const q of SHARED_QUEUES.slice(1, 5)) await admin.bindQueue(sinkQueue, exchange, q);
    const prefix = `hws-${id}-`;
    const collector = new EventCollector((h) => h.startsWith(prefix));
    await admin.consume(eventsQueue, collector.onMessage, { noAck: true });
    const pub = await pubConn.createConfirmChannel();
    const broker = cluster ? cluster.pids() : [await brokerPid()].flatMap((p) => p ?? []);
    const meter = new CpuMeter(() => [process.pid, ...children.map((c) => c.pid), ...broker]);
    const cpu: Record<string, unknown> = {};
    result.cpu = cpu;

    // ---- workers ----------------------------------------------------------------------------------
    logFd = openSync(logPath, 'w');
    mkdirSync(statePath, { recursive: true });
    const per = Math.ceil(hosts / procs);
    const t0 = performance.now();
    for (let p = 0; p < procs; p++) {
      const slice = hostNames.slice(p * per, (p + 1) * per);
      if (slice.length === 0) continue;
      const spec: ScaleChildSpec = {
        amqpUrl: cluster ? transportUrl(rotated(p)) : AMQP_URL, controlExchange: exchange, hosts: slice, connections: Math.min(connsPerProc, slice.length),
        statePath, instancesPath, startConcurrency: 10, settings: sets, label: `${id}:${p}`,
      };
      children.push(new Child(path.join(__dirname, 'scale-child.js'), spec, { stderrFd: logFd }));
    }
    const readies = await Promise.all(children.map((c) => c.next('ready', 240_000)));
    for (const r of readies) for (const q of r.queues as string[]) toDelete.add(q);
    const startS = round((performance.now() - t0) / 1000, 1);
    say(`workers: ${hosts} started in ${startS} s (${readies.map((r) => `${r.startS} s`).join(', ')} per process)`);
    // The workers bound the shared notification queues to this run's exchange: detach them (the sink has those keys).
    for (const q of SHARED_QUEUES.slice(1, 5)) {
      const ch = await evConn.createChannel();
      ch.on('error', () => undefined);
      await ch.unbindQueue(q, exchange, q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    // Journal appends go to a stream of this run's, not the shared hostwall.journal (see divertJournal).
    if (!['false', '0', 'no'].includes(sets.journal ?? '')) toDelete.add(await divertJournal(evConn, exchange, `hwscale.${id}.journal`));
    const counts = await brokerCounts(id, toDelete, ctlNode);
    result.broker_while_running = counts;
    if (cluster) {
      perNode.while_running = await cluster.perNode();
      say(`per node while running: ${nodeLine(perNode.while_running as Record<NodeName, NodeFigures>)}`);
    }
    say(`broker while running: ${counts.queues_total} queues (${counts.queues_of_run} of this run), ${counts.connections_total} connections (${counts.connections_of_run} of this run), ${counts.channels_total} channels, ${counts.consumers_total} consumers (${counts.consumers_of_run} on this run's queues, plus one per host on the shared "compute" topic queue), ${counts.sockets_used}/${counts.sockets_limit} sockets, ${counts.memory_mb} MB`);

    // ---- one instance per host -------------------------------------------------------------------
    const uuidOf = new Map(hostNames.map((h) => [h, randomUUID()]));
    const spawns = hostNames.map((h, i) => spawnIntent(exchange, h, uuidOf.get(h) ?? '', i));
    const st0 = performance.now();
    await preload(pub, spawns);
    await collector.waitFor(spawns.map((m) => m.id), 180_000);
    const sp = collector.tally(spawns.map((m) => m.id));
    say(`spawned ${sp.succeeded}/${hosts} (one per host) in ${round((collector.lastArrival(spawns.map((m) => m.id)) - st0) / 1000, 2)} s${sp.failed ? `; failures: ${sp.firstErrors.join('; ')}` : ''}`);

    // ---- fan-out -------------------------------------------------------------------------------------
    let seq = hosts;
    const randomIntent = (): Encoded => {
      const h = hostNames[Math.floor(Math.random() * hostNames.length)] ?? '';
      const kind = POWER_MIX[Math.floor(Math.random() * POWER_MIX.length)] ?? 'instance.reboot';
      return encodeCast(exchange, h, kind, { instance_uuid: uuidOf.get(h) }, seq++);
    };
    const open = Array.from({ length: Math.round(rate * duration) }, randomIntent);
    meter.start();
    const ot0 = performance.now();
    const sentAt = await paced(pub, open, rate);
    await collector.waitFor(open.map((m) => m.id), 120_000);
    cpu.open_loop = meter.stop();
    const openStats = pacedLatency(collector, open, sentAt, ot0, rate);
    result.fanout_open_loop = openStats;
    say(`fan-out at ${rate}/s to random hosts for ${duration} s: p50 ${openStats.p50_ms} ms, p99 ${openStats.p99_ms} ms, max ${openStats.max_ms} ms, achieved ${openStats.achieved_per_s}/s, ${openStats.failed} failed, ${openStats.missing} missing`);

    const burstMsgs = Array.from({ length: burst }, randomIntent);
    meter.start();
    const bt0 = performance.now();
    await preload(pub, burstMsgs);
    await collector.waitFor(burstMsgs.map((m) => m.id), 180_000);
    cpu.burst = meter.stop();
    const bt = collector.tally(burstMsgs.map((m) => m.id));
    const burstS = (collector.lastArrival(burstMsgs.map((m) => m.id)) - bt0) / 1000;
    const burstStats = { intents: burst, succeeded: bt.succeeded, failed: bt.failed, missing: bt.missing, seconds: round(burstS, 2), per_s: Math.round((bt.succeeded + bt.failed) / burstS), first_errors: bt.firstErrors };
    result.fanout_burst = burstStats;
    say(`fan-out burst of ${burst} to random hosts: ${burstStats.per_s}/s end to end (${burstStats.seconds} s), ${bt.failed} failed, ${bt.missing} missing`);

    if (cluster) {
      perNode.after_burst = await cluster.perNode();
      say(`per node after the burst: ${nodeLine(perNode.after_burst as Record<NodeName, NodeFigures>)}`);
      // ---- the same open loop, one node stopped halfway ----------------------------------------------
      const msgs = Array.from({ length: Math.round(rate * duration) }, randomIntent);
      meter.start();
      const st = performance.now();
      const stopping = sleep((duration * 1000) / 2).then(async () => {
        const s0 = performance.now();
        await cluster.stop(stopNode);
        return round((performance.now() - s0) / 1000, 1);
      });
      const sent = await paced(pub, msgs, rate);
      const stopS = await stopping;
      await collector.waitFor(msgs.map((m) => m.id), 180_000);
      cpu.node_stopped = meter.stop();
      const stats = { ...pacedLatency(collector, msgs, sent, st, rate), stopped: stopNode, stop_took_s: stopS };
      result.fanout_node_stopped = stats;
      perNode.node_stopped = await cluster.perNode();
      say(`fan-out at ${rate}/s for ${duration} s, ${stopNode} stopped halfway (stop took ${stopS} s): p50 ${stats.p50_ms} ms, p99 ${stats.p99_ms} ms, max ${stats.max_ms} ms, achieved ${stats.achieved_per_s}/s, ${stats.failed} failed, ${stats.missing} missing`);
      say(`per node with ${stopNode} stopped: ${nodeLine(perNode.node_stopped as Record<NodeName, NodeFigures>)}`);
      const r0 = performance.now();
      await cluster.start(stopNode);
      say(`${stopNode} started again and the cluster healthy in ${round((performance.now() - r0) / 1000, 1)} s`);
    }
    say(`CPU (cores of ${os.cpus().length}) bench+workers+broker / interrupts / other processes / steal: ${Object.entries(cpu).map(([k, c]) => { const u = c as { bench_and_broker_cores: number; irq_cores: number; foreign_cores: number; steal_cores: number }; return `${k} ${u.bench_and_broker_cores}/${u.irq_cores}/${u.foreign_cores}/${u.steal_cores}`; }).join(', ')}`);

    const rss = await Promise.all(children.map(async (c) => {
      const m = procMemory(c.pid);
      return { pid: c.pid, rss_mb: m?.rss_mb ?? Number.NaN, hwm_mb: m?.hwm_mb ?? Number.NaN };
    }));
    const totalRss = rss.reduce((a, r) => a + r.rss_mb, 0);
    result.worker_processes = { rss, total_rss_mb: round(totalRss), per_host_kb: Math.round((totalRss * 1024) / hosts) };
    say(`worker processes: RSS ${rss.map((r) => `${r.rss_mb} MB`).join(', ')} (peak ${rss.map((r) => r.hwm_mb).join(', ')} MB); ${Math.round((totalRss * 1024) / hosts)} KB per simulated host`);
  } finally {
    await Promise.all(children.map((c) => c.stop({ cmd: 'stop' }, 30_000)));
    if (logFd !== undefined) closeSync(logFd);
    const deleted = await deleteQueues(pubConn, toDelete);
    // Quorum queues and streams refuse if-unused deletes (540, closing the connection): these did not
    // exist before the run, so on quorum queues they are deleted plainly.
    const quorum = sets.queues === 'quorum';
    const sharedDeleted = await deleteQueues(pubConn, SHARED_QUEUES.filter((q) => q !== 'hostwall.journal' && sharedBefore.get(q) === false), !quorum);
    const journalDeleted = sharedBefore.get('hostwall.journal') === false ? await deleteQueues(pubConn, ['hostwall.journal'], quorum ? false : 'unused') : 0;
    const ch = await pubConn.createChannel();
    ch.on('error', () => undefined);
    const exchangeDeleted = await ch.deleteExchange(exchange).then(() => true, () => false);
    await ch.close().catch(() => undefined);
    await pubConn.close().catch(() => undefined);
    await evConn.close().catch(() => undefined);
    rmSync(statePath, { recursive: true, force: true });
    rmSync(instancesPath, { recursive: true, force: true });
    if (!opts.has('keep-log')) rmSync(logPath, { force: true });
    if (cluster) await cluster.start(stopNode).catch(() => undefined);
    const after = await brokerCounts(id, toDelete, ctlNode).catch(() => undefined);
    result.cleanup = { queues_deleted: deleted + sharedDeleted + journalDeleted, exchange_deleted: exchangeDeleted, queues_of_run_left: after?.queues_of_run, connections_of_run_left: after?.connections_of_run };
    say(`cleanup: ${deleted + sharedDeleted + journalDeleted} queues deleted, exchange deleted: ${exchangeDeleted}; left on the broker from this run: ${after?.queues_of_run ?? '?'} queues, ${after?.connections_of_run ?? '?'} connections; ${round((Date.now() - started) / 1000)} s in all`);
    result.seconds = round((Date.now() - started) / 1000);
    writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
    say(`results: ${path.relative(process.cwd(), outFile)}`);
    if (jsonOut) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
