/**
 * The fault suite: a batch of 1,000 intents for 50 instances, cut in the
 * middle by (1) kill -9 of the worker process, restarted on the same host
 * and intent store, and (2) a restart of the broker (stop_app / start_app,
 * quorum queues). In both, every intent's effect must happen exactly once
 * and in order per instance, checked through the hypervisor's real state
 * and through the events.
 *
 * Why the effects prove it: harness/port-plan.ts.
 *
 * The guests live in libvirtd's test driver (test+unix:///default), whose
 * state outlives the killed worker because this test holds a connection.
 * The broker is a private RabbitMQ node, so restarting it disturbs no one.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { TestBus } from './harness/bus';
import { ChildWorker } from './harness/child-worker';
import { ensureLibvirtd, LIBVIRT_TEST_URI, PrivateBroker } from './harness/daemons';
import { DurableEventLog } from './harness/durable-events';
import { expectAppliedOnceInOrder, flagged, portPlan } from './harness/port-plan';

const INSTANCES = 50;
const PER_INSTANCE = 20;
const CUT_AT = 300;

describe('fault: 1,000 intents for 50 instances, exactly once and in order, through crashes', function () {
  this.timeout(300_000);
  const broker = new PrivateBroker('hwfault', 5682);
  let anchor: Driver;
  let bus: TestBus;
  const guests: string[] = [];

  before(async () => {
    await ensureLibvirtd();
    anchor = await openLibvirtDriver({ uri: LIBVIRT_TEST_URI, connections: 1 });
    await broker.start();
    bus = await TestBus.connect(broker.url);
  });

  after(async () => {
    await bus?.close();
    for (const g of guests) await anchor.destroy(g, { keepDisks: false }).catch(() => undefined);
    await anchor?.close();
    await broker.stop();
  });

  async function batch(name: string, cut: (w: ChildWorker, restart: () => Promise<ChildWorker>) => Promise<ChildWorker>): Promise<void> {
    const host = `${name}-${randomUUID().slice(0, 8)}`;
    const statePath = mkdtempSync(join(tmpdir(), 'hw-fault-'));
    const log = await DurableEventLog.open(broker.url, host);
    const opts = { host, amqpUrl: broker.url, libvirtUri: LIBVIRT_TEST_URI, statePath, queues: 'quorum' as const };
    const ready = async () => (await bus.consumers(`compute.${host}`)) > 0;
    let worker = await ChildWorker.start(opts, ready);
    try {
      const uuids = Array.from({ length: INSTANCES }, () => randomUUID());
      guests.push(...uuids);
      const spawns = await Promise.all(uuids.map((u, i) => bus.cast(host, 'instance.spawn', { instance_uuid: u, name: `${name}-${i}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } })));
      await log.until(() => spawns.filter((id) => log.outcomesOf(id).length > 0).length, INSTANCES, 60_000, 'spawns');
      const steps = portPlan(uuids, PER_INSTANCE);
      const t0 = Date.now();
      for (const s of steps) await bus.cast(host, s.kind, s.args, { uniqueId: s.id });
      const unflaggedDone = () => steps.filter((s) => log.outcomesOf(s.id).some((e) => !flagged(e))).length;
      await log.until(unflaggedDone, CUT_AT, 60_000, `${CUT_AT} outcomes before the cut`);
      const atCut = unflaggedDone();
      worker = await cut(worker, () => ChildWorker.start(opts, ready));
      await log.until(() => steps.filter((s) => log.outcomesOf(s.id).length > 0).length, steps.length, 120_000, 'every outcome');
      const elapsed = Date.now() - t0;
      // A late duplicate would come before a marker behind every instance's lane
      // (sent on a connection of its own: a broker restart closed the bus's).
      const markers = await TestBus.connect(broker.url);
      try {
        await Promise.all(uuids.map((u) => markers.settled(host, log, u)));
      } finally {
        await markers.close();
      }

      await expectAppliedOnceInOrder(log, steps, uuids, PER_INSTANCE, anchor);
      const again = steps.filter((s) => log.outcomesOf(s.id).some(flagged)).length;
      const reconciled = worker.logs.filter((l) => l.includes('interrupted intent reconciled')).length;
      process.stdout.write(`      ${name}: ${steps.length} intents in ${elapsed} ms; cut after ${atCut} outcomes; ${reconciled} interrupted intents reconciled at restart; ${again} answered again from the store\n`);
      expect(await worker.kill('SIGTERM'), 'graceful stop exits 0').to.equal(0);
    } finally {
      worker.child.kill('SIGKILL');
      await log.close();
    }
  }

  it('kill -9 of the worker mid-batch, then a restart: each effect once, in order', async () => {
    await batch('kill', async (w, restart) => {
      expect(await w.kill('SIGKILL')).to.equal(null);
      return restart();
    });
  });

  it('connects over amqps:// with a CA and a client certificate from its settings', async () => {
    const host = `tls-${randomUUID().slice(0, 8)}`;
    const log = await DurableEventLog.open(broker.url, host);
    const { ca, clientCert, clientKey } = broker.tls;
    const worker = await ChildWorker.start(
      { host, amqpUrl: broker.tlsUrl, libvirtUri: LIBVIRT_TEST_URI, statePath: mkdtempSync(join(tmpdir(), 'hw-tls-')), queues: 'quorum', extra: ['--tls-ca-file', ca, '--tls-cert-file', clientCert, '--tls-key-file', clientKey] },
      async () => (await bus.consumers(`compute.${host}`)) > 0,
    );
    try {
      const uuid = randomUUID();
      guests.push(uuid);
      const id = await bus.cast(host, 'instance.spawn', { instance_uuid: uuid, name: 'tls-0', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } });
      expect((await log.waitFor((e) => e.intent_id === id && (e.event === 'intent.succeeded' || e.event === 'intent.failed'))).event).to.equal('intent.succeeded');
      expect(await worker.kill('SIGTERM')).to.equal(0);
    } finally {
      worker.child.kill('SIGKILL');
      await log.close();
    }
  });

  it('a broker restart mid-batch (quorum queues): each effect once, in order', async () => {
    await batch('restart', async (w) => {
      await broker.restart(1000);
      return w;
    });
  });
});
