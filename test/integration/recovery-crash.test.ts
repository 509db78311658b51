/**
 * Crash recovery, in process: the worker "dies" in the middle of a driver
 * call (its connection drops, nothing more is recorded or settled), a new
 * worker on the same host and intent store reconciles the interrupted
 * intent against the guest's real state, and the message the broker
 * redelivers meets that decision exactly once. The kill -9 version, with a
 * libvirt daemon and a real process, is in test/fault/.
 */
import { expect } from 'chai';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, intercepted, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { uniqueHost, uuid } from '../support/worker';

const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };
const never = new Promise<never>(() => undefined);

/**
 * Hang a method of one instance: before the real call, or after it did its
 * work. `hung` resolves once the call hangs, so the crash comes while it is
 * under way.
 */
function hanging(target: { method: string; uuid: string; when: 'before' | 'after' }): { wrap: (d: Driver) => Driver; hung: Promise<void> } {
  let hungNow: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => {
    hungNow = resolve;
  });
  const wrap = (d: Driver) => intercepted(d, async (method, args, call) => {
    if (method !== target.method || args[0] !== target.uuid) return call();
    if (target.when === 'after') await call();
    hungNow();
    return never;
  });
  return { wrap, hung };
}

describe('recovery: an intent interrupted by a crash is reconciled, once', function () {
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

  async function scenario(hang: { method: string; when: 'before' | 'after' }, kind: string, expected: number, between?: (id: string) => Promise<void>) {
    const host = uniqueHost('recover');
    hosts.push(host);
    const statePath = tempStatePath();
    const id = uuid();
    const hangs = hanging({ ...hang, uuid: id });
    const w1 = await startHostWorker({ host, statePath, wrap: hangs.wrap });
    const log = await bus.eventLog(host);
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `c-${id.slice(0, 8)}`, flavor });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn');
    const intentId = await bus.cast(host, kind, { instance_uuid: id });
    await log.waitFor((e) => e.event === 'intent.accepted' && e.intent_id === intentId);
    await hangs.hung;
    await w1.crash();
    if (between) await between(id);
    const w2 = await startHostWorker({ host, statePath });
    live.push(w2);
    await log.until(() => log.outcomesOf(intentId).length, expected, 10_000, 'the outcomes after the restart');
    await bus.settled(host, log, id);
    return { id, intentId, log, outcomes: log.outcomesOf(intentId), w2 };
  }

  it('finishes an intent whose effect happened before the crash, and answers its redelivery from the record', async () => {
    const { id, outcomes } = await scenario({ method: 'pause', when: 'after' }, 'instance.pause', 2);
    expect(outcomes.map((o) => [o.event, 'redelivered' in o])).to.deep.equal([['intent.succeeded', false], ['intent.succeeded', true]]);
    expect((await anchor.getState(id)).power_state).to.equal('paused');
  });

  it('runs an intent that had not reached the host again, once, when its message comes back', async () => {
    const { id, outcomes } = await scenario({ method: 'pause', when: 'before' }, 'instance.pause', 1);
    expect(outcomes.length).to.equal(1);
    expect(outcomes[0]).to.include({ event: 'intent.succeeded' }).and.not.have.property('redelivered');
    expect((await anchor.getState(id)).power_state).to.equal('paused');
  });

  it('fails, with INTERRUPTED, an intent that is not safe to repeat from the state found', async () => {
    const { id, outcomes } = await scenario({ method: 'unpause', when: 'before' }, 'instance.unpause', 2, async (uuid) => {
      // While no worker runs, the guest is paused and then shut off by someone else.
      await anchor.pause(uuid);
      await anchor.powerOff(uuid, { clean: false, timeoutS: 0 });
    });
    expect(outcomes[0]).to.deep.include({ event: 'intent.failed' });
    expect(outcomes[0]).to.have.nested.property('error.code', 'INTERRUPTED');
    expect(outcomes[1]).to.include({ event: 'intent.failed', redelivered: true });
    expect((await anchor.getState(id)).power_state).to.equal('shutdown');
  });

  it('dead-letters as POISON a message that keeps killing the worker', async () => {
    const host = uniqueHost('poison');
    hosts.push(host);
    const statePath = tempStatePath();
    const id = uuid();
    const config = { poisonDeliveries: 2 };
    let hangs = hanging({ method: 'pause', when: 'before', uuid: id });
    let w = await startHostWorker({ host, statePath, config, wrap: hangs.wrap });
    const log = await bus.eventLog(host);
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `p-${id.slice(0, 8)}`, flavor });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn');
    const intentId = await bus.cast(host, 'instance.pause', { instance_uuid: id });
    for (let crash = 1; crash <= 2; crash++) {
      await log.until(() => log.events.filter((e) => e.event === 'intent.accepted' && e.intent_id === intentId).length, crash, 10_000, `delivery ${crash}`);
      await hangs.hung;
      await w.crash();
      hangs = hanging({ method: 'pause', when: 'before', uuid: id });
      w = await startHostWorker({ host, statePath, config, wrap: hangs.wrap });
    }
    live.push(w);
    const rejected = await log.waitFor((e) => e.event === 'intent.rejected', 10_000, 'intent.rejected');
    expect(rejected).to.have.nested.property('error.code', 'POISON');
    const [dead] = await bus.deadLetters(host, 1);
    expect(dead?.headers).to.include({ 'x-hostwall-reason': 'POISON', 'x-hostwall-original-routing-key': `compute.${host}` });
    expect((await anchor.getState(id)).power_state).to.equal('running');
  });
});
