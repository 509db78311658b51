/**
 * The outcome ledger: durable outcomes answered from the intent store (only
 * what a duplicate needs is stored), reads from a bounded cache, and the
 * published mark committed after the ack, which a crash may lose only to a
 * flagged republication at the next start.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceBook } from '../../src/host-state/instance-book';
import { OutcomeLedger, parseOutcome } from '../../src/dispatch/ledger';
import type { FinalOutcome } from '../../src/dispatch/outcome';
import type { EventSink } from '../../src/dispatch/ports';
import { recoverInterrupted } from '../../src/dispatch/recovery';
import type { Driver } from '../../src/drivers/driver';
import { IntentFailure } from '../../src/errors';
import type { InstanceView, IntentRequest } from '../../src/host-state/instance-view';
import { createLogger } from '../../src/log';
import { IntentStore } from '../../src/store/intent-store';

const log = createLogger({ level: 'error', format: 'json' });
const UUID = '8f0e5c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b';

function facts(): InstanceView {
  return {
    uuid: UUID, name: 'g', host: 'h', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 }, image_id: undefined, metadata: { pad: 'x'.repeat(2000) },
    power_state: 'paused', vm_state: 'paused', task_state: null, created_at: undefined, launched_at: undefined, terminated_at: undefined,
    ports: [], volumes: [{ volume_id: 'v-1', device: 'vdb' }],
  };
}

function paused(intentId: string): FinalOutcome {
  const instance = { instance_uuid: UUID, power_state: 'paused', vm_state: 'paused', task_state: null };
  return { status: 'succeeded', intentId, kind: 'instance.pause', result: { intent_id: intentId, kind: 'instance.pause', outcome: 'succeeded', instance }, instance: facts() };
}

const key = (intentId: string, kind = 'instance.pause', issuer = 'nova') => ({ intentId, kind, issuer });
const beginOf = (intentId: string) => ({ ...key(intentId), instanceUuid: UUID, args: '{}', request: '{"request_id":"req-1","issuer":"nova"}', receivedAt: 1 });

describe('dispatch: the outcome ledger', () => {
  it('answers a finished durable intent from the store, with the facts its outcome event needs', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 60_000 });
    const ledger = new OutcomeLedger(store, 10, log);
    await ledger.begin(beginOf('i1'));
    const o = paused('i1');
    await ledger.finish(o, 'nova', true);
    const prior = ledger.lookup(key('i1'), true);
    expect(prior).to.deep.equal({
      kind: 'finished', published: false,
      outcome: { ...o, instance: { uuid: UUID, power_state: 'paused', vm_state: 'paused', task_state: null } },
    });
    expect(store.get(key('i1'))?.outcome?.length, 'the instance facts are not stored whole').to.be.lessThan(400);
    ledger.published(o, 'nova', true);
    await store.begin(beginOf('i2'));
    expect(ledger.lookup(key('i1'), true)).to.include({ kind: 'finished', published: true });
    expect(ledger.lookup(key('unknown'), true)).to.equal(undefined);
    store.close();
  });

  it('says running while an intent runs', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 60_000 });
    const ledger = new OutcomeLedger(store, 10, log);
    let finish: (o: FinalOutcome) => void = () => undefined;
    const running = new Promise<FinalOutcome>((r) => (finish = r));
    ledger.track(key('i1'), running);
    expect(ledger.lookup(key('i1'), true)).to.include({ kind: 'running' });
    expect(ledger.lookup(key('i1', 'instance.get_state'), false), 'another kind with that id').to.equal(undefined);
    await ledger.begin(beginOf('i1'));
    await ledger.finish(paused('i1'), 'nova', true);
    finish(paused('i1'));
    await running;
    await new Promise((r) => setImmediate(r));
    expect(ledger.lookup(key('i1'), true)).to.include({ kind: 'finished' });
    store.close();
  });

  it('keeps reads in memory only, the latest dedupeMemory of them', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 60_000 });
    const ledger = new OutcomeLedger(store, 2, log);
    const read = (id: string): FinalOutcome => ({ status: 'succeeded', intentId: id, kind: 'instance.get_state', result: { power_state: 'running' }, instance: undefined });
    for (const id of ['r1', 'r2', 'r3']) {
      await ledger.finish(read(id), 'nova', false);
      ledger.published(read(id), 'nova', false);
    }
    const readKey = (id: string) => key(id, 'instance.get_state');
    expect(store.withId('r3')).to.deep.equal([]);
    expect(ledger.lookup(readKey('r3'), false)).to.deep.equal({ kind: 'finished', outcome: read('r3'), published: true });
    expect(ledger.lookup(readKey('r2'), false)).to.include({ kind: 'finished' });
    expect(ledger.lookup(readKey('r1'), false), 'forgotten: run again').to.equal(undefined);
    store.close();
  });

  it('keeps apart intents that share an id but not a kind or an issuer: none answers for another', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 60_000 });
    const ledger = new OutcomeLedger(store, 10, log);
    const read: FinalOutcome = { status: 'succeeded', intentId: 'x', kind: 'instance.get_state', result: {}, instance: undefined };
    await ledger.finish(read, 'nova', false);
    ledger.published(read, 'nova', false);
    const ready: FinalOutcome = { status: 'succeeded', intentId: 'x', kind: 'port.ready', result: {}, instance: undefined };
    await ledger.begin({ ...beginOf('x'), ...key('x', 'port.ready', 'neutron') });
    await ledger.finish(ready, 'neutron', true);
    expect(ledger.lookup(key('x', 'instance.get_state'), false)).to.include({ kind: 'finished' });
    expect(ledger.lookup(key('x', 'port.ready', 'neutron'), true)).to.include({ kind: 'finished' });
    // A Nova destroy, and Neutron's port.ready said to come from Nova, are other intents.
    expect(ledger.lookup(key('x', 'instance.destroy'), true)).to.equal(undefined);
    expect(ledger.lookup(key('x', 'port.ready', 'nova'), true)).to.equal(undefined);
    // A read's answer never stands for an action of the same kind name either: actions are only in the store.
    expect(ledger.lookup(key('x', 'instance.get_state'), true)).to.equal(undefined);
    store.close();
  });

  it('publishes again, flagged, at the next start an outcome acked before its published mark was committed', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hw-ledger-')), 'intents.sqlite');
    const src = join(__dirname, '..', '..', 'src');
    // A worker that acks (ledger.published queues the mark) and dies before the next commit.
    const script = `
      const { IntentStore } = require(${JSON.stringify(join(src, 'store', 'intent-store'))});
      const { OutcomeLedger } = require(${JSON.stringify(join(src, 'dispatch', 'ledger'))});
      const { createLogger } = require(${JSON.stringify(join(src, 'log'))});
      (async () => {
        const store = IntentStore.open({ path: ${JSON.stringify(path)}, runId: 'run-1', retentionMs: 60000 });
        const ledger = new OutcomeLedger(store, 10, createLogger({ level: 'error', format: 'json' }));
        const outcome = ${JSON.stringify(paused('i1'))};
        await ledger.begin(${JSON.stringify(beginOf('i1'))});
        await ledger.finish(outcome, 'nova', true);
        ledger.published(outcome, 'nova', true);
        process.exit(0);
      })();`;
    execFileSync(process.execPath, ['-e', script], { stdio: 'inherit' });

    const store = IntentStore.open({ path, runId: 'run-2', retentionMs: 60_000 });
    expect(store.unpublished().map((r) => r.intent_id)).to.deep.equal(['i1']);
    const published: { o: FinalOutcome; flags: object }[] = [];
    const events: EventSink = {
      accepted: () => Promise.resolve(), novaPhase: () => Promise.resolve(), instanceState: () => Promise.resolve(), rejected: () => Promise.resolve(),
      outcome: (o: FinalOutcome, _req: IntentRequest, flags: object) => {
        published.push({ o, flags });
        return Promise.resolve();
      },
    };
    const summary = await recoverInterrupted({ store, driver: idleDriver(), events, book: new InstanceBook('h'), log });
    expect(summary).to.include({ republished: 1 });
    expect(published).to.have.length(1);
    expect(published[0]?.flags).to.deep.equal({ redelivered: true });
    expect(published[0]?.o).to.deep.equal(parseOutcome(store.get(key('i1'))?.outcome ?? null));
    expect(store.unpublished()).to.deep.equal([]);
    store.close();
  });
});

/** Recovery of unpublished outcomes asks the driver nothing. */
function idleDriver(): Driver {
  const no = () => Promise.reject(new IntentFailure('NOT_SUPPORTED', 'not in this fake'));
  return {
    name: 'fake', getState: no, spawn: no, destroy: no, powerOn: no, powerOff: no, reboot: no, pause: no, unpause: no, suspend: no, resume: no,
    attachVolume: no, detachVolume: no, plugPort: no, unplugPort: no, listGuests: no, inventory: no, close: () => Promise.resolve(),
  };
}
