/**
 * The cluster fault suite (`npm run test:cluster`): the worker is given
 * oslo's multi-host transport_url naming the three nodes of the private
 * cluster (scripts/rabbitmq-cluster.sh), its compute.<host> is a quorum
 * queue replicated on all three, the journal a stream replicated on all
 * three, its dead letters and events on the cluster. A batch of
 * order-sensitive intents for 50 instances (test/fault/harness/port-plan.ts)
 * is cut, mid-batch, by:
 *   (a) stopping the node leading compute.<host> (not the worker's node),
 *   (b) stopping the node the worker is connected to (not the leader's),
 *   (c) pausing the worker's node, which also leads the queue (SIGSTOP of
 *       its VM for longer than net_ticktime: a partition the two others
 *       detect; with pause_minority it pauses itself when it comes back,
 *       then rejoins).
 * Each time: nothing lost, nothing applied twice, per-instance order kept,
 * checked on libvirtd's own state; the worker consumes again on the
 * surviving nodes, and the time it took is printed.
 *
 * The test's own connections (casts, the event log) go to a node the fault
 * leaves alone, so what is measured is the worker's failover, not the test's.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { JOURNAL_STREAM } from '../../src/store/journal';
import { workerTopology } from '../../src/worker/topology';
import { deadLetterQueueName } from '../../src/oslo/wire/oslo-wire';
import { TestBus } from '../fault/harness/bus';
import { ChildWorker } from '../fault/harness/child-worker';
import { ensureLibvirtd, LIBVIRT_TEST_URI } from '../fault/harness/daemons';
import { DurableEventLog } from '../fault/harness/durable-events';
import { expectAppliedOnceInOrder, flagged, portPlan } from '../fault/harness/port-plan';
import { Cluster, NODES, type NodeName, nodeUrl, transportUrl } from './harness/cluster';

const INSTANCES = Number(process.env.CLUSTER_INSTANCES ?? 50);
const PER_INSTANCE = Number(process.env.CLUSTER_PER_INSTANCE ?? 20);
const CUT_AT = Math.floor((INSTANCES * PER_INSTANCE * 3) / 10);
/** Heartbeat in the URL: a paused node is noticed only by missed heartbeats (oslo's default, 60 s, would take minutes). */
const HEARTBEAT_S = 5;
/** Past net_ticktime (10 s, scripts/rabbitmq-cluster.sh) and the worker's heartbeat timeout (2 × HEARTBEAT_S). */
const PAUSE_MS = 30_000;

interface Case {
  name: string;
  /** Where compute.<host> is declared first (its leader: RabbitMQ places it on the declaring client's node). */
  leader: NodeName;
  /** Where the test's own connections go: a node the fault leaves alone. */
  safe: NodeName;
  fault: (c: Cluster, at: { worker: NodeName; leader: NodeName }) => Promise<NodeName>;
  /** Bring the cluster back to three healthy nodes; says how. */
  heal: (c: Cluster, faulted: NodeName) => Promise<string>;
}

/** The longest stretch without an outcome from `from` on: how long the worker did not consume. */
function longestPause(arrivals: readonly number[], from: number): number {
  let last = from;
  let worst = 0;
  for (const t of arrivals) {
    if (t < from) continue;
    worst = Math.max(worst, t - last);
    last = t;
  }
  return worst;
}

describe('cluster: a three-node RabbitMQ cluster, a node lost mid-batch: exactly once, in order', function () {
  this.timeout(600_000);
  const cluster = new Cluster();
  let anchor: Driver;
  const guests: string[] = [];

  before(async () => {
    await ensureLibvirtd();
    anchor = await openLibvirtDriver({ uri: LIBVIRT_TEST_URI, connections: 1 });
    await cluster.up();
    await cluster.healthy();
  });

  after(async () => {
    for (const g of guests) await anchor.destroy(g, { keepDisks: false }).catch(() => undefined);
    await anchor?.close();
  });

  async function batch(c: Case): Promise<void> {
    const host = `cl-${c.name}-${randomUUID().slice(0, 8)}`;
    const bus = await TestBus.connect(nodeUrl(c.safe));
    const log = await DurableEventLog.open(nodeUrl(c.safe), host);
    const url = transportUrl(NODES, `heartbeat_timeout_threshold=${HEARTBEAT_S}`);
    const opts = { host, amqpUrl: url, libvirtUri: LIBVIRT_TEST_URI, statePath: mkdtempSync(join(tmpdir(), 'hw-cluster-')), queues: 'quorum' as const };
    // The worker's own declaration of compute.<host>, made first from c.leader's node.
    const config = loadConfig({ env: {}, flags: { amqpUrl: url, host, queues: 'quorum' } });
    const server = workerTopology(config).declare.queues.find((q) => q.name === `compute.${host}`);
    if (!server) throw new Error('no compute queue in the topology');
    const pre = await TestBus.connect(nodeUrl(c.leader));
    await (await pre.channel()).assertQueue(server.name, { durable: server.durable, autoDelete: server.autoDelete, exclusive: server.exclusive, arguments: server.arguments ?? {} });
    await pre.close();

    const ready = async () => (await bus.consumers(`compute.${host}`)) > 0;
    const worker = await ChildWorker.start(opts, ready);
    try {
      const [workerNode] = await cluster.connectionNodes(`hostwall-worker:${host}:`);
      const leader = await cluster.leaderOf(`compute.${host}`);
      expect(workerNode, 'the worker connects to the first node of the URL').to.equal(NODES[0]);
      expect(leader).to.equal(c.leader);
      // Replicated on every node: the host's queue and dead letters as quorum queues, the journal as a stream.
      expect(await cluster.queueInfo(`compute.${host}`)).to.deep.equal({ type: 'quorum', members: [...NODES] });
      expect(await cluster.queueInfo(deadLetterQueueName(host))).to.deep.equal({ type: 'quorum', members: [...NODES] });
      expect(await cluster.queueInfo(JOURNAL_STREAM)).to.deep.equal({ type: 'stream', members: [...NODES] });

      const uuids = Array.from({ length: INSTANCES }, () => randomUUID());
      guests.push(...uuids);
      const spawns = await Promise.all(uuids.map((u, i) => bus.cast(host, 'instance.spawn', { instance_uuid: u, name: `${c.name}-${i}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } })));
      await log.until(() => spawns.filter((id) => log.outcomesOf(id).length > 0).length, INSTANCES, 60_000, 'spawns');
      const steps = portPlan(uuids, PER_INSTANCE);
      const t0 = Date.now();
      // Cast on while the fault happens: it comes after CUT_AT outcomes, with most of the batch still to do.
      const casting = (async () => {
        for (const s of steps) await bus.cast(host, s.kind, s.args, { uniqueId: s.id });
      })();
      casting.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      const done = () => steps.filter((s) => log.outcomesOf(s.id).length > 0).length;
      await log.until(() => steps.filter((s) => log.outcomesOf(s.id).some((e) => !flagged(e))).length, CUT_AT, 120_000, `${CUT_AT} outcomes before the fault`);
      const atFault = done();
      const tFault = Date.now();
      const faulted = await c.fault(cluster, { worker: workerNode ?? NODES[0], leader: c.leader });
      const faultMs = Date.now() - tFault;
      await casting;
      await log.until(done, steps.length, 300_000, 'every outcome');
      const tDone = Date.now();
      const [newNode] = await cluster.connectionNodes(`hostwall-worker:${host}:`);
      const newLeader = await cluster.leaderOf(`compute.${host}`);
      const healed = await c.heal(cluster, faulted);
      await new Promise((r) => setTimeout(r, 1000)); // late duplicates would show now

      await expectAppliedOnceInOrder(log, steps, uuids, PER_INSTANCE, anchor);
      expect(atFault, 'the fault came mid-batch').to.be.below(steps.length);
      expect(await bus.ready(deadLetterQueueName(host)), 'nothing dead-lettered').to.equal(0);
      const outcomeTimes = log.events.flatMap((e, i) => (e.event === 'intent.succeeded' || e.event === 'intent.failed' ? [log.arrivals[i] ?? 0] : []));
      const again = steps.filter((s) => log.outcomesOf(s.id).some(flagged)).length;
      process.stdout.write(
        `      ${c.name}: ${steps.length} intents in ${tDone - t0} ms; ${faulted} ${c.name === 'pause' ? 'paused' : 'stopped'} after ${atFault} outcomes (fault took ${faultMs} ms); ` +
          `worker on ${workerNode}→${newNode}, compute.${host} leader ${leader}→${newLeader}; ` +
          `consumed again after ${longestPause(outcomeTimes, tFault)} ms (longest pause in outcomes from the fault on); ${again} answered again from the store; ${healed}\n`,
      );
      expect(await worker.kill('SIGTERM'), 'graceful stop exits 0').to.equal(0);
    } finally {
      worker.child.kill('SIGKILL');
      await log.close();
      await bus.removeHost(host);
      await bus.close();
    }
  }

  it('connects to the first host of its transport_url that answers', async () => {
    const host = `cl-first-${randomUUID().slice(0, 8)}`;
    const bus = await TestBus.connect(nodeUrl('hw3'));
    // 127.0.0.1:5799: nothing listens there (scripts/rabbitmq-cluster.sh uses 5791-5793).
    const url = transportUrl(['hw2', 'hw1', 'hw3']).replace('rabbit://', 'rabbit://guest:guest@127.0.0.1:5799,');
    const worker = await ChildWorker.start(
      { host, amqpUrl: url, libvirtUri: LIBVIRT_TEST_URI, statePath: mkdtempSync(join(tmpdir(), 'hw-cluster-')), queues: 'quorum' },
      async () => (await bus.consumers(`compute.${host}`)) > 0,
    );
    try {
      expect(await cluster.connectionNodes(`hostwall-worker:${host}:`)).to.deep.equal(['hw2']);
      expect(await worker.kill('SIGTERM')).to.equal(0);
    } finally {
      worker.child.kill('SIGKILL');
      await bus.removeHost(host);
      await bus.close();
    }
  });

  it('(a) the node leading compute.<host> stops (the worker\'s node stays): it keeps consuming from the new leader', async () => {
    await batch({
      name: 'leader', leader: 'hw2', safe: 'hw3',
      fault: async (c, at) => {
        await c.stop(at.leader);
        return at.leader;
      },
      heal: async (c, n) => {
        await c.start(n);
        return `${n} started again and rejoined`;
      },
    });
  });

  it('(b) the node the worker is connected to stops (the leader is elsewhere): it moves to the next node of its URL', async () => {
    await batch({
      name: 'conn', leader: 'hw3', safe: 'hw3',
      fault: async (c, at) => {
        await c.stop(at.worker);
        return at.worker;
      },
      heal: async (c, n) => {
        await c.start(n);
        return `${n} started again and rejoined`;
      },
    });
  });

  it('(c) the worker\'s node, also the leader, is partitioned away (VM paused past net_ticktime) and comes back', async () => {
    await batch({
      name: 'pause', leader: 'hw1', safe: 'hw3',
      fault: async (c, at) => {
        c.pause(at.worker);
        await new Promise((r) => setTimeout(r, PAUSE_MS));
        c.resume(at.worker);
        return at.worker;
      },
      heal: async (c, n) => {
        // pause_minority heals a partition the cut-off node saw (it pauses itself, then restarts when it
        // sees the majority again); a VM that was frozen saw nothing, and resumes with mnesia recording a
        // partition on both sides: the quorum queues have healed (Raft), the metadata needs n restarted.
        const healedAlone = await c.healthy(30_000).then(() => true, () => false);
        if (healedAlone) return `${n} resumed, partition healed by itself`;
        await c.restartApp(n);
        await c.healthy();
        return `${n} resumed with a partition recorded, healed by stop_app/start_app of ${n}`;
      },
    });
  });
});
