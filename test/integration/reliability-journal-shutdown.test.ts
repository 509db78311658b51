/**
 * The journal stream records every intent routed to the compute queues (read
 * back by offset and by time, with routing key and headers); a graceful stop
 * finishes what runs, starts nothing new, and leaves the rest unacked for
 * the next worker, which applies it in order.
 */
import { expect } from 'chai';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { JOURNAL_STREAM } from '../../src/store/journal';
import { type JournalRecord, readJournal } from '../../src/store/journal-reader';
import { createAmqp091Transport } from '../../src/transport/amqp091';
import { TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, intercepted, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { uniqueHost, uuid } from '../support/worker';

const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };

describe('reliability: journal and graceful shutdown', function () {
  this.timeout(60_000);
  let bus: TestBus;
  let anchor: Driver;
  const hosts: string[] = [];
  const live: HostWorker[] = [];

  before(async () => {
    anchor = await openLibvirtDriver({ uri: 'test:///default', connections: 1 });
    bus = await TestBus.connect(AMQP_URL);
  });
  after(async () => {
    for (const w of live) await w.worker.stop(2_000).catch(() => undefined);
    for (const h of hosts) await bus.removeHost(h);
    await bus.close();
    await anchor.close();
  });

  it('journals every intent sent to compute.<host>, readable by offset and by time', async () => {
    const host = uniqueHost('journal');
    hosts.push(host);
    const w = await startHostWorker({ host, statePath: tempStatePath() });
    live.push(w);
    const log = await bus.eventLog(host);
    const since = new Date(Date.now() - 2000);
    const id = uuid();
    const sent = await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `j-${id.slice(0, 8)}`, flavor }, { headers: { 'x-trace': 'abc' } });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.intent_id === sent);
    const mine = (r: JournalRecord) => r.routingKey === `compute.${host}`;
    const found: JournalRecord[] = [];
    const transport = createAmqp091Transport({ url: AMQP_URL, connectionName: `test-journal-${host}` });
    await transport.start();
    try {
      for await (const r of readJournal({ transport, from: since, idleMs: 500 })) if (mine(r)) found.push(r);
      expect(found).to.have.length(1);
      const [rec] = found;
      expect(rec?.exchange).to.equal('nova');
      expect(rec?.headers['x-trace']).to.equal('abc');
      expect(rec?.body.toString()).to.contain(sent);
      const again: JournalRecord[] = [];
      for await (const r of readJournal({ transport, from: rec?.offset ?? -1, limit: 1 })) again.push(r);
      expect(again[0]?.offset).to.equal(rec?.offset);
      expect(again[0]?.body.equals(rec?.body ?? Buffer.alloc(0))).to.equal(true);
    } finally {
      await transport.close();
    }
    expect(JOURNAL_STREAM).to.equal('hostwall.journal');
  });

  it('on stop: finishes the running intent, starts no queued one, leaves them unacked; the next worker applies them in order', async () => {
    const host = uniqueHost('drain');
    hosts.push(host);
    const statePath = tempStatePath();
    const order: string[] = [];
    let firstStarted: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      firstStarted = resolve;
    });
    const slow = (d: Driver) => intercepted(d, async (method, _args, call) => {
      if (method === 'pause' || method === 'unpause') {
        order.push(method);
        firstStarted();
        await new Promise((r) => setTimeout(r, 300));
      }
      return call();
    });
    const first = await startHostWorker({ host, statePath, wrap: slow, config: { concurrency: 1 } });
    const log = await bus.eventLog(host);
    const id = uuid();
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `g-${id.slice(0, 8)}`, flavor });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await bus.cast(host, i % 2 === 0 ? 'instance.pause' : 'instance.unpause', { instance_uuid: id }));
    await running;
    expect(await first.worker.stop(10_000)).to.equal(true);
    expect(order).to.deep.equal(['pause']);
    expect(log.outcomesOf(ids[0] ?? '')).to.have.length(1);
    for (const i of ids.slice(1)) expect(log.outcomesOf(i), 'not started, so no outcome').to.have.length(0);
    expect(await bus.ready(`compute.${host}`)).to.equal(5);
    const second = await startHostWorker({ host, statePath });
    live.push(second);
    await log.until(() => ids.filter((i) => log.outcomesOf(i).length > 0).length, 6, 15_000, 'all six outcomes');
    for (const i of ids) expect(log.outcomesOf(i).map((e) => e.event)).to.deep.equal(['intent.succeeded']);
    expect((await anchor.getState(id)).power_state).to.equal('running');
  });
});
