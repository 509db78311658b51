/**
 * Nothing applied twice: a duplicate delivery, a replay, and a re-send after
 * a restart of the worker are answered from the intent store (their outcome
 * published again, flagged) and never reach the driver again.
 */
import { expect } from 'chai';
import type { Driver } from '../../src/drivers/driver';
import { REPLAY_HEADERS } from '../../src/store/replay-marks';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, intercepted, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { uniqueHost, uuid } from '../support/worker';

const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };

describe('reliability: nothing applied twice', function () {
  this.timeout(60_000);
  let bus: TestBus;
  let anchor: Driver;
  const calls: string[] = [];
  const hosts: string[] = [];
  const workers: HostWorker[] = [];
  const count = (d: Driver) => intercepted(d, (method, args, call) => {
    calls.push(`${method}:${typeof args[0] === 'string' ? args[0] : ''}`);
    return call();
  });

  before(async () => {
    // Holds test:///default open, so its guests outlive each worker's own connections.
    anchor = await openLibvirtDriver({ uri: 'test:///default', connections: 1 });
    bus = await TestBus.connect(AMQP_URL);
  });

  after(async () => {
    for (const w of workers) await w.worker.stop(2_000).catch(() => undefined);
    for (const h of hosts) await bus.removeHost(h);
    await bus.close();
    await anchor.close();
  });

  async function worker(host: string, statePath: string): Promise<HostWorker> {
    const w = await startHostWorker({ host, statePath, wrap: count });
    workers.push(w);
    return w;
  }

  it('answers a duplicate delivery from the record, flagged redelivered, without a second driver call', async () => {
    const host = uniqueHost('dedupe');
    hosts.push(host);
    await worker(host, tempStatePath());
    const log = await bus.eventLog(host);
    const id = uuid();
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `d-${id.slice(0, 8)}`, flavor });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn');
    const before = calls.filter((c) => c === `pause:${id}`).length;
    const uniqueId = await bus.cast(host, 'instance.pause', { instance_uuid: id });
    await bus.cast(host, 'instance.pause', { instance_uuid: id }, { uniqueId });
    await log.until(() => log.outcomesOf(uniqueId).length, 2, 10_000, 'two outcomes');
    const [first, second] = log.outcomesOf(uniqueId);
    expect(first).to.include({ event: 'intent.succeeded' });
    expect(first).to.not.have.property('redelivered');
    expect(second).to.include({ event: 'intent.succeeded', redelivered: true });
    expect(calls.filter((c) => c === `pause:${id}`).length - before).to.equal(1);
  });

  it('answers a replay (x-hostwall-replay-of) flagged replayed', async () => {
    const host = uniqueHost('replay');
    hosts.push(host);
    await worker(host, tempStatePath());
    const log = await bus.eventLog(host);
    const id = uuid();
    const uniqueId = await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `r-${id.slice(0, 8)}`, flavor });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.intent_id === uniqueId);
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `r-${id.slice(0, 8)}`, flavor }, { uniqueId, headers: { [REPLAY_HEADERS.of]: 'journal:1' } });
    await log.until(() => log.outcomesOf(uniqueId).length, 2, 10_000, 'the replayed outcome');
    expect(log.outcomesOf(uniqueId)[1]).to.include({ event: 'intent.succeeded', replayed: true });
    expect(calls.filter((c) => c === `spawn:`).length).to.be.greaterThan(0);
    expect(log.events.filter((e) => e.event === 'intent.failed')).to.deep.equal([]);
  });

  it('remembers outcomes across a restart of the worker (same host, same state path)', async () => {
    const host = uniqueHost('restart');
    hosts.push(host);
    const statePath = tempStatePath();
    const first = await worker(host, statePath);
    const log = await bus.eventLog(host);
    const id = uuid();
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `s-${id.slice(0, 8)}`, flavor });
    const uniqueId = await bus.cast(host, 'instance.pause', { instance_uuid: id });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.intent_id === uniqueId);
    expect(await first.worker.stop(5_000)).to.equal(true);
    await worker(host, statePath);
    const before = calls.filter((c) => c === `pause:${id}`).length;
    await bus.cast(host, 'instance.pause', { instance_uuid: id }, { uniqueId });
    await log.until(() => log.outcomesOf(uniqueId).length, 2, 10_000, 'the re-sent outcome');
    expect(log.outcomesOf(uniqueId)[1]).to.include({ event: 'intent.succeeded', redelivered: true });
    expect(calls.filter((c) => c === `pause:${id}`).length).to.equal(before);
    // The guest is still paused once, not failed by a second pause.
    expect((await anchor.getState(id)).power_state).to.equal('paused');
  });
});
