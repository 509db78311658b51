/**
 * Floods and sizes at the wall (issue 15, items 4 and 5), against real
 * workers on the real broker:
 *
 * - a refused message whose headers fill the frame is dead-lettered once,
 *   with what is copied from it bounded and flagged, in both issuer modes
 *   (it used to be requeued and refused again thousands of times a second);
 * - a refusal that cannot be dead-lettered at all comes back counted, at a
 *   backing-off pace, and is dead-lettered as POISON once it can be;
 * - identifiers that are stored or echoed are bounded: a multi-megabyte
 *   `_unique_id` is refused, a long request id is cut, and every event the
 *   worker publishes passes its own schema;
 * - `host.intents` answers within a byte cap, in pages, even over a store
 *   that holds multi-megabyte ids written before ids were bounded (its reply
 *   used to exceed the broker's max message size and wedge the call);
 * - a publish bigger than the broker takes fails alone, before it is sent,
 *   and the channel carries on.
 */
import { expect } from 'chai';
import type * as amqp from 'amqplib';
import { IntentClient } from '../../src/client/intent-client';
import { IntentStore } from '../../src/store/intent-store';
import { TransportError } from '../../src/errors';
import { createAmqp091Transport } from '../../src/transport/amqp091';
import { intentStorePath } from '../../src/worker/worker';
import { DEAD_LETTER_HEADERS, deadLetterQueueName } from '../../src/oslo/wire/oslo-wire';
import { type EventLog, TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { connectTransport, uniqueHost, uuid } from '../support/worker';

const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };
const PROPS: amqp.Options.Publish = { contentType: 'application/json', contentEncoding: 'utf-8', userId: 'guest' };
const hex = () => uuid().replace(/-/g, '');
const env = (inner: unknown) => Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(inner) }));
const pause = (instance: string, over: Record<string, unknown> = {}) => env({ method: 'instance.pause', namespace: 'hostwall', version: '1.0', args: { instance_uuid: instance }, _unique_id: hex(), ...over });

/** Headers that fill most of the 64 KiB amqplib (the sender) can encode: about 64 KB. */
function flood(): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i < 194; i++) h[`x-flood-${String(i).padStart(3, '0')}`] = 'y'.repeat(320);
  return h;
}

/** What a headers table costs on the wire, roughly (key, tag, length, value). */
function tableBytes(h: Record<string, unknown>): number {
  let n = 0;
  for (const [k, v] of Object.entries(h)) n += 2 + Buffer.byteLength(k) + 4 + (typeof v === 'string' ? Buffer.byteLength(v) : Buffer.isBuffer(v) ? v.length : 8);
  return n;
}

async function spawnOne(bus: TestBus, host: string, log: EventLog): Promise<string> {
  const instance = uuid();
  const { body } = bus.intentBody('instance.spawn', { instance_uuid: instance, name: `f-${instance.slice(0, 8)}`, flavor });
  await bus.publish({ routingKey: `compute.${host}`, body, properties: PROPS });
  await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn' && e.instance_uuid === instance, 15_000, 'the spawn');
  return instance;
}

describe('bad input: header floods are dead-lettered once, with what is copied bounded', function () {
  this.timeout(120_000);
  for (const mode of ['open', 'verified'] as const) {
    describe(`issuer mode ${mode}`, () => {
      let bus: TestBus;
      let w: HostWorker;
      let host: string;

      before(async () => {
        host = uniqueHost(`flood-${mode}`);
        w = await startHostWorker({ host, statePath: tempStatePath(), config: { issuerMode: mode, issuerUsers: { guest: 'nova' }, journal: false } });
        bus = await TestBus.connect(AMQP_URL);
      });

      after(async () => {
        await w?.worker.stop(2_000);
        await bus?.removeHost(host);
        await bus?.close();
      });

      it('dead-letters a refused message with ~64 KB of headers once, flagged truncated, and carries on', async () => {
        const log = await bus.eventLog(host);
        const instance = await spawnOne(bus, host, log);
        const uid = hex();
        const body = pause('not-a-uuid', { _unique_id: uid });
        await bus.publish({ routingKey: `compute.${host}`, body, properties: { ...PROPS, headers: flood() } });
        const [dead] = await bus.deadLetters(host, 1, 15_000);
        expect(dead, 'a dead letter').to.not.equal(undefined);
        if (!dead) return;
        expect(dead.headers[DEAD_LETTER_HEADERS.reason]).to.equal('INVALID_INTENT');
        expect(dead.body.equals(body)).to.equal(true);
        expect(String(dead.headers[DEAD_LETTER_HEADERS.truncated]), 'flagged truncated').to.match(/of 194 headers/);
        const copied = Object.keys(dead.headers).filter((k) => k.startsWith('x-flood-'));
        expect(copied.length).to.be.below(194);
        expect(tableBytes(dead.headers), 'the dead letter\'s headers are bounded').to.be.below(16 * 1024);
        // The next valid intent runs; by then the refused one has been refused exactly once.
        const { body: next, uniqueId } = bus.intentBody('instance.pause', { instance_uuid: instance });
        await bus.publish({ routingKey: `compute.${host}`, body: next, properties: PROPS });
        await log.waitFor((e) => e.intent_id === uniqueId && e.event === 'intent.succeeded', 10_000, 'the next intent');
        expect(log.events.filter((e) => e.event === 'intent.rejected' && e.intent_id === uid)).to.have.length(1);
        expect(await bus.deadLetters(host, 1, 300)).to.deep.equal([]);
        expect(log.invalid, 'events that fail their own schema').to.deep.equal([]);
      });
    });
  }

  describe('a refusal that cannot be dead-lettered', () => {
    let bus: TestBus;
    let w: HostWorker;
    let host: string;

    before(async () => {
      host = uniqueHost('undead');
      w = await startHostWorker({ host, statePath: tempStatePath(), config: { poisonDeliveries: 3, journal: false } });
      bus = await TestBus.connect(AMQP_URL);
    });

    after(async () => {
      await w?.worker.stop(2_000);
      await bus?.removeHost(host);
      await bus?.close();
    });

    it('is counted and comes back at a backing-off pace, then is dead-lettered as POISON once it can be', async () => {
      const log = await bus.eventLog(host);
      const dlq = deadLetterQueueName(host);
      const ch = await bus.channel();
      await ch.deleteQueue(dlq);
      const uid = hex();
      const body = pause('not-a-uuid', { _unique_id: uid });
      await bus.publish({ routingKey: `compute.${host}`, body, properties: PROPS });
      const attempts = () => log.events.filter((e) => e.event === 'intent.rejected' && e.intent_id === uid);
      await log.until(() => attempts().length, 4, 30_000, 'four refusals of the message');
      const at = attempts().map((e) => Date.parse(e.at));
      // Before, a refusal that could not be dead-lettered came back within a millisecond, for ever.
      for (let i = 1; i < 4; i++) expect((at[i] ?? 0) - (at[i - 1] ?? 0), `gap before attempt ${i + 1}`).to.be.at.least(50);
      await ch.assertQueue(dlq, { durable: true, autoDelete: false, exclusive: false });
      await ch.close();
      const [dead] = await bus.deadLetters(host, 1, 20_000);
      expect(dead?.headers[DEAD_LETTER_HEADERS.reason]).to.equal('POISON');
      expect(String(dead?.headers[DEAD_LETTER_HEADERS.firstError])).to.match(/^INVALID_INTENT: /);
      expect(Number(dead?.headers[DEAD_LETTER_HEADERS.deliveries])).to.be.above(3);
      expect(dead?.body.equals(body)).to.equal(true);
    });
  });
});

describe('bad input: identifiers and replies are bounded', function () {
  this.timeout(300_000);
  let bus: TestBus;
  let w: HostWorker;
  let host: string;
  let statePath: string;
  let clientTransport: Awaited<ReturnType<typeof connectTransport>>;
  let client: IntentClient;
  let log: EventLog;
  let instance: string;

  before(async () => {
    host = uniqueHost('bounded');
    statePath = tempStatePath();
    // A store as a worker that did not bound ids left it: 100 intents with ids of 1.4 MB each (140 MB).
    const old = IntentStore.open({ path: intentStorePath({ statePath, host }), runId: 'before-the-bound', retentionMs: 3_600_000 });
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 100; i++) {
      const id = `${String(i).padStart(3, '0')}${'i'.repeat(1_400_000)}`;
      const key = { intentId: id, kind: 'instance.pause', issuer: '' };
      await old.begin({ ...key, instanceUuid: uuid(), args: '{}', request: '{}', receivedAt: t0 + i }, t0 + i);
      await old.finish(key, 'succeeded', '{}', t0 + i);
      await old.markPublished(key, t0 + i);
    }
    old.close();
    w = await startHostWorker({ host, statePath, config: { journal: false } });
    bus = await TestBus.connect(AMQP_URL);
    clientTransport = await connectTransport(`bounded-client-${host}`);
    client = new IntentClient(clientTransport, { controlExchange: 'nova' });
    log = await bus.eventLog(host);
    instance = await spawnOne(bus, host, log);
  });

  after(async () => {
    await clientTransport?.close();
    await w?.worker.stop(2_000);
    await bus?.removeHost(host);
    await bus?.close();
  });

  it('refuses a 3 MB _unique_id: dead-lettered, nothing recorded, every event valid', async () => {
    const big = 'u'.repeat(3_000_000);
    const body = pause(instance, { _unique_id: big });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: PROPS });
    const rejected = await log.waitFor((e) => e.event === 'intent.rejected' && e.error.code === 'NOT_OSLO_ENVELOPE', 15_000, 'intent.rejected');
    expect(rejected.event === 'intent.rejected' ? rejected.error.message : '').to.match(/_unique_id/);
    const [dead] = await bus.deadLetters(host, 1, 10_000);
    expect(dead?.headers[DEAD_LETTER_HEADERS.reason]).to.equal('NOT_OSLO_ENVELOPE');
    expect(w.worker.store.withId(big)).to.deep.equal([]);
    expect(log.invalid, 'events that fail their own schema').to.deep.equal([]);
  });

  it('cuts a 5 KB request id in events and the store, and runs the intent', async () => {
    const requestId = `req-${'r'.repeat(5_000)}`;
    const { body, uniqueId } = bus.intentBody('instance.pause', { instance_uuid: instance }, { context: { request_id: requestId } });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: PROPS });
    const done = await log.waitFor((e) => e.intent_id === uniqueId && (e.event === 'intent.succeeded' || e.event === 'intent.failed'), 15_000, 'the outcome');
    expect(done.event).to.equal('intent.succeeded');
    expect(done.request_id?.length ?? 0).to.be.within(1, 255);
    expect(requestId.startsWith((done.request_id ?? 'x').replace(/…$/, ''))).to.equal(true);
    const [stored] = w.worker.store.withId(uniqueId);
    expect(String(stored?.request).length).to.be.below(1_000);
    expect(log.invalid, 'events that fail their own schema').to.deep.equal([]);
  });

  it('answers host.intents over a store of 1.4 MB ids with ids cut, and pages it within a byte cap', async () => {
    // No TTL on the call's message (monitor only), as the call that wedged the worker had none.
    const all = (await client.call(host, 'host.intents', { limit: 1000 }, { timeoutMs: 60_000, version: '1.0' })) as { intent_id: string }[];
    expect(all.length).to.be.at.least(100);
    for (const r of all) expect(r.intent_id.length).to.be.at.most(129);
    const seen: string[] = [];
    let before: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = (await client.call(host, 'host.intents', { limit: 1000, paged: true, max_bytes: 16_384, ...(before ? { before } : {}) }, { timeoutMs: 30_000 })) as { intents: { intent_id: string }[]; more: boolean; next: string | null };
      expect(Buffer.byteLength(JSON.stringify(r.intents))).to.be.at.most(16_384);
      seen.push(...r.intents.map((i) => i.intent_id));
      if (!r.more) break;
      expect(r.next).to.be.a('string');
      before = r.next ?? undefined;
    }
    expect(seen).to.deep.equal(all.map((r) => r.intent_id));
    expect(new Set(seen).size).to.equal(seen.length);
    expect(log.invalid, 'events that fail their own schema').to.deep.equal([]);
  });
});

describe('bad input: a reply the broker could never take', function () {
  this.timeout(120_000);
  let w: HostWorker;
  let host: string;
  let clientTransport: Awaited<ReturnType<typeof connectTransport>>;
  let client: IntentClient;

  before(async () => {
    host = uniqueHost('toolarge');
    const statePath = tempStatePath();
    const store = IntentStore.open({ path: intentStorePath({ statePath, host }), runId: 'earlier', retentionMs: 3_600_000 });
    for (let i = 0; i < 400; i++) await store.begin({ intentId: `id-${i}`, kind: 'instance.pause', issuer: '', instanceUuid: uuid(), args: '{}', request: '{}', receivedAt: Date.now() - 1000 });
    store.close();
    // The broker here takes 128 MiB; the worker is told it takes 64 KiB, as a RabbitMQ configured so would.
    w = await startHostWorker({ host, statePath, config: { journal: false, maxPublishBytes: 64 * 1024 } });
    clientTransport = await connectTransport(`toolarge-client-${host}`);
    client = new IntentClient(clientTransport, { controlExchange: 'nova' });
  });

  after(async () => {
    await clientTransport?.close();
    await w?.worker.stop(2_000);
  });

  it('answers the call with the error instead of looping on it; the next call is answered', async () => {
    const err = await client.call(host, 'host.intents', { limit: 400 }, { timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.match(/reply could not be sent: .*larger than the broker's max message size/);
    const small = (await client.call(host, 'host.intents', { limit: 3 }, { timeoutMs: 20_000 })) as unknown[];
    expect(small).to.have.length(3);
  });
});

describe('transport: a publish bigger than the broker takes', function () {
  this.timeout(120_000);

  it('fails alone with a clear error before it is sent; the publishes beside it are confirmed', async () => {
    const t = createAmqp091Transport({ url: AMQP_URL, connectionName: 'too-large-test' });
    await t.start();
    try {
      const nowhere = `hostwall-test-nowhere-${hex()}`;
      const small = () => t.publish({ exchange: '', routingKey: nowhere, body: Buffer.from('{}'), contentType: 'application/json' });
      const beforeIt = small();
      const big = t.publish({ exchange: '', routingKey: nowhere, body: Buffer.alloc(129 * 1024 * 1024, 0x61), contentType: 'application/json' });
      const besideIt = small();
      const err = await big.then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TransportError);
      expect(String((err as Error).message)).to.match(/larger than/);
      expect((err as TransportError).details.outcome).to.equal('too_large');
      expect(await beforeIt).to.equal('confirmed');
      expect(await besideIt).to.equal('confirmed');
      expect(await small()).to.equal('confirmed');
    } finally {
      await t.close();
    }
  });
});
