/**
 * The AMQP 0-9-1 transport against a real RabbitMQ (AMQP_URL, default the
 * local broker): what is particular to 0-9-1. What every transport must do
 * (declare, publish, consume, settle, prefetch, reconnect) is in the
 * conformance suite (conformance/amqp091.test.ts). Every test uses fresh
 * names and deletes what it declared.
 */
import { Socket } from 'node:net';
import { expect } from 'chai';
import { ConfigError, TransportError } from '../../src/errors';
import { type Amqp091Transport, createAmqp091Transport } from '../../src/transport/amqp091';
import { publishProperties } from '../../src/transport/amqp091/publisher';
import { wireArguments } from '../../src/transport/amqp091/declare';
import { backoffDelayMs, withTimeout } from '../../src/transport/timing';
import type { Topology } from '../../src/transport/transport';
import { Admin, AMQP_URL, uid } from '../support/broker';
import { Inbox } from '../support/inbox';
import { json, LogTap, queueTopology, transportFor } from './transport-fixtures.test';

describe('amqp091 transport (real broker)', function () {
  this.timeout(30000);
  let admin: Admin;
  let tap: LogTap;
  let t: Amqp091Transport;
  let queues: string[];
  let exchanges: string[];

  before(async () => {
    admin = await Admin.open(AMQP_URL);
  });
  after(async () => {
    await admin.close();
  });
  beforeEach(async () => {
    tap = new LogTap();
    t = transportFor(AMQP_URL, tap);
    queues = [];
    exchanges = [];
    await t.start();
  });
  afterEach(async () => {
    await t.close();
    await admin.remove(queues, exchanges);
  });

  const names = (): { q: string; x: string } => {
    const id = uid();
    const q = `hw-it-q-${id}`;
    const x = `hw-it-x-${id}`;
    queues.push(q);
    exchanges.push(x);
    return { q, x };
  };

  it('publishes with the AMQP properties oslo sets (content type/encoding, delivery_mode 2, priority 0, headers {}, expiration)', async () => {
    const { q } = names();
    await t.declare(queueTopology(q));
    await t.publish(json('', q, { n: 1 }, { contentEncoding: 'utf-8', headers: {}, expirationMs: 60000 }));
    const got = await admin.with((ch) => ch.get(q, { noAck: true }));
    if (!got) throw new Error('no message');
    expect(got.properties).to.deep.include({
      contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, expiration: '60000',
    });
    expect(got.properties.headers).to.deep.equal({});
    expect(publishProperties(json('', q, 1))).to.deep.include({ contentEncoding: 'utf-8', mandatory: false });
    expect(publishProperties(json('', q, 1))).to.not.have.property('expiration');
  });

  it('matches returns to the right publish when routable and unroutable mandatory publishes interleave', async () => {
    const { q } = names();
    await t.declare(queueTopology(q));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.publish(json('', i % 2 ? q : `missing-${uid()}`, { i }, { mandatory: true }))),
    );
    expect(results).to.deep.equal(Array.from({ length: 20 }, (_, i) => (i % 2 ? 'confirmed' : 'unroutable')));
  });

  it('explains a declaration whose flags clash with the existing queue (406), and keeps working', async () => {
    const { q } = names();
    await t.declare(queueTopology(q));
    const clash: Topology = { exchanges: [], queues: [{ name: q, durable: true, autoDelete: false, exclusive: false }], bindings: [] };
    const err = await t.declare(clash).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportError);
    const e = err as TransportError;
    expect(e.message).to.contain(`queue "${q}"`).and.contain('"durable" is \'false\' on the broker').and.contain("asked for 'true'");
    expect(e.details).to.include({ object: 'queue', argument: 'durable', broker_has: "'false'", asked_for: "'true'" });
    const quorum: Topology = { exchanges: [], queues: [{ name: q, durable: false, autoDelete: false, exclusive: false, arguments: { 'x-queue-type': 'quorum' } }], bindings: [] };
    const err2 = (await t.declare(quorum).then(() => undefined, (x: unknown) => x)) as TransportError;
    expect(err2.details).to.include({ argument: 'x-queue-type', broker_has: 'none' });
    // The refused topology is not remembered, and the transport still works.
    expect(await t.publish(json('', q, { ok: true }))).to.equal('confirmed');
  });

  it("sends a tick's burst of publishes and acks in one socket write, not one per frame", async () => {
    const { q } = names();
    await t.declare(queueTopology(q));
    const inbox = new Inbox();
    await t.consume([q], { prefetch: 100 }, inbox.push);
    expect(await t.publish(json('', q, { warm: true }))).to.equal('confirmed'); // the confirm channel is open
    await (await inbox.next()).settle('ack');
    // Every socket's writes, counted at the stream's write-out (the admin connection stays idle meanwhile).
    const proto = Socket.prototype;
    const { _write, _writev } = proto;
    let writes = 0;
    proto._write = function (this: Socket, ...args: Parameters<typeof _write>) {
      writes++;
      return _write.apply(this, args);
    };
    if (_writev) {
      proto._writev = function (this: Socket, ...args: Parameters<NonNullable<typeof _writev>>) {
        writes++;
        return _writev.apply(this, args);
      };
    }
    try {
      const n = 40;
      const published = await Promise.all(Array.from({ length: n }, (_, i) => t.publish(json('', q, { i }))));
      expect(published.every((r) => r === 'confirmed')).to.equal(true);
      expect(writes, 'socket writes for 40 publishes').to.be.at.most(4);
      const got = await Promise.all(Array.from({ length: n }, () => inbox.next()));
      writes = 0;
      await Promise.all(got.map((m) => m.settle('ack')));
      await new Promise((r) => setImmediate(r));
      expect(writes, 'socket writes for 40 acks').to.be.at.most(2);
    } finally {
      proto._write = _write;
      proto._writev = _writev;
    }
    expect(await admin.messageCount(q)).to.equal(0);
  });

  it('waits for drain under backpressure and still confirms everything', async () => {
    const { q } = names();
    await t.declare(queueTopology(q));
    // amqplib's per-channel write buffer holds 1024 frames: a burst of 3000 publishes overflows it.
    const n = 3000;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => t.publish(json('', q, { i }))));
    expect(results.every((r) => r === 'confirmed')).to.equal(true);
    expect(tap.lines.some((l) => /buffer full/.test(l.msg))).to.equal(true);
    expect(await admin.messageCount(q)).to.equal(n);
  });
});

describe('amqp091 transport without a broker', () => {
  it('fails start() with a TransportError naming the URL (password hidden) when nothing answers', async () => {
    const t = createAmqp091Transport({ url: 'amqp://guest:s3cret@127.0.0.1:1/', startTimeoutMs: 1500, reconnectMinMs: 100, reconnectMaxMs: 200 });
    const err = await t.start().then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportError);
    expect(String((err as Error).message)).to.contain('127.0.0.1:1').and.not.contain('s3cret');
    await t.close();
  });

  it('spreads reconnect delays with jitter under an exponential ceiling', () => {
    expect(backoffDelayMs(0, 500, 30000, () => 0)).to.equal(250);
    expect(backoffDelayMs(0, 500, 30000, () => 1)).to.equal(500);
    expect(backoffDelayMs(3, 500, 30000, () => 1)).to.equal(4000);
    expect(backoffDelayMs(20, 500, 30000, () => 0.5)).to.equal(22500);
  });

  it('types integer arguments as py-amqp does (signed 32-bit, 64-bit beyond), other values untouched', () => {
    expect(wireArguments({ 'x-delivery-limit': 5, 'x-expires': 1800000, big: 2 ** 40, 'x-queue-type': 'quorum', f: 1.5 })).to.deep.equal({
      'x-delivery-limit': { '!': 'int', value: 5 },
      'x-expires': { '!': 'int', value: 1800000 },
      big: { '!': 'long', value: 2 ** 40 },
      'x-queue-type': 'quorum',
      f: 1.5,
    });
  });

  it('times out a broker await with a TransportError and hands a late result to the cleanup', async () => {
    let release: (v: string) => void = () => undefined;
    const late = new Promise<string>((resolve) => {
      release = resolve;
    });
    const cleaned = new Promise<string>((resolve) => {
      const err = withTimeout(late, 10, 'opening a channel', resolve).then(() => undefined, (e: unknown) => e);
      void err.then((e) => {
        expect(e).to.be.instanceOf(TransportError);
        expect(String((e as Error).message)).to.equal('opening a channel timed out after 10 ms');
        release('the late channel');
      });
    });
    expect(await cleaned).to.equal('the late channel');
  });

  it('refuses bad options with a one-line ConfigError', () => {
    expect(() => createAmqp091Transport({ url: 'http://x' })).to.throw(ConfigError, /URL/);
    expect(() => createAmqp091Transport({ url: 'amqp://x', tls: { ca: 'pem' } })).to.throw(/amqps/);
  });
});
