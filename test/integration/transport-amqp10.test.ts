/**
 * What only the AMQP 1.0 transport has to prove, against a real RabbitMQ 3.x
 * with the rabbitmq_amqp1_0 plugin, in a vhost of its own: messages crossing
 * between 0-9-1 and 1.0 peers (both ways, with oslo's properties), replies to
 * oslo reply queues without re-declaring them, the poison-bug guard, the
 * exclusive-queue emulation, the generic address family with operator
 * templates, and sender-link eviction. The shared contract is in
 * conformance/ (run against both transports).
 */
import { ackOnReceipt } from '../../src/transport/transport';
import { createServer } from 'node:net';
import { expect } from 'chai';
import { TransportError } from '../../src/errors';
import { encodeFinalReply, replyOutbound } from '../../src/oslo/rpc-reply';
import { replyQueueTopology } from '../../src/oslo/topology';
import { type Amqp091Transport, createAmqp091Transport } from '../../src/transport/amqp091';
import { type Amqp10Options, type Amqp10Transport, createAmqp10Transport } from '../../src/transport/amqp10';
import type { InboundMessage } from '../../src/transport/transport';
import { Admin, AMQP_URL, addVhost, deleteVhost, RABBITMQCTL, uid } from '../support/broker';
import { Inbox } from '../support/inbox';
import { json, LogTap, queueTopology } from './transport-fixtures.test';

const fast = { operationTimeoutMs: 5000, confirmTimeoutMs: 5000, reconnectMinMs: 100, reconnectMaxMs: 1000 };

describe('amqp10 transport start failures (real broker)', () => {
  it('says why: a wrong password', async () => {
    const u = new URL(AMQP_URL);
    u.protocol = 'amqp10:';
    u.password = 'wrong-password';
    // RabbitMQ answers a failed login only after a pause of a few seconds.
    const t = createAmqp10Transport({ url: u.toString(), adminUrl: false, startTimeoutMs: 8000, reconnectMinMs: 5000, reconnectMaxMs: 5000 });
    const err = await t.start().then(() => undefined, (e: unknown) => e);
    await t.close();
    expect(err).to.be.instanceOf(TransportError);
    expect(String((err as Error).message)).to.contain('amqp:unauthorized-access').and.contain('user and password').and.not.contain('wrong-password');
  });

  it('says why: a vhost that does not exist (3.x opens the connection and refuses the first session)', async () => {
    const u = new URL(AMQP_URL);
    u.protocol = 'amqp10:';
    u.pathname = `/hostwall-no-such-vhost-${uid()}`;
    const t = createAmqp10Transport({ url: u.toString(), adminUrl: false, startTimeoutMs: 1000, reconnectMinMs: 100, reconnectMaxMs: 200 });
    const err = await t.start().then(() => undefined, (e: unknown) => e);
    await t.close();
    expect(String((err as Error).message)).to.contain('vhost in the URL path exists');
  });
});

(RABBITMQCTL ? describe : describe.skip)('amqp10 transport (RabbitMQ 3.x, rabbitmq_amqp1_0)', function () {
  this.timeout(60_000);
  const vhost = `hostwall_a10_${uid()}`;
  let url: string;
  let url10: string;
  let admin: Admin;
  let tap: LogTap;
  let t10: Amqp10Transport;
  let t091: Amqp091Transport;

  const open10 = async (extra: Partial<Amqp10Options> = {}): Promise<Amqp10Transport> => {
    const t = createAmqp10Transport({ url: url10, log: tap.log, ...fast, ...extra });
    await t.start();
    return t;
  };

  before(async () => {
    url = await addVhost(vhost);
    url10 = url.replace(/^amqp:/, 'amqp10:');
    admin = await Admin.open(url);
  });
  after(async () => {
    await admin?.close();
    await deleteVhost(vhost);
  });
  beforeEach(async () => {
    tap = new LogTap();
    t10 = await open10();
    t091 = createAmqp091Transport({ url, ...fast });
    await t091.start();
  });
  afterEach(async () => {
    await t10.close();
    await t091.close();
  });

  const names = (): { q: string; x: string } => {
    const id = uid();
    return { q: `a10-q-${id}`, x: `a10-x-${id}` };
  };

  describe('across protocols', () => {
    it('delivers over 1.0 what was published over 0-9-1: same bytes, content type and encoding, routing key; headers are lost (3.x)', async () => {
      const { q, x } = names();
      await t091.declare(queueTopology(q, { exchange: x }));
      const inbox = new Inbox();
      await t10.consume([q], { prefetch: 5 }, inbox.push);
      const bytes = Buffer.from('{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"h\\u00e9llo\\"}"}');
      await t091.publish({ exchange: x, routingKey: q, body: bytes, contentType: 'application/json', contentEncoding: 'utf-8', expirationMs: 60000, headers: { 'x-a': 'b' } });
      const m = await inbox.next();
      expect(m.body.equals(bytes)).to.equal(true);
      expect(m).to.deep.include({ contentType: 'application/json', contentEncoding: 'utf-8', routingKey: q, queue: q, redelivered: false });
      // RabbitMQ 3.x's plugin neither names the exchange nor turns 0-9-1 headers into application-properties.
      expect(m.exchange).to.equal('');
      expect(m.headers).to.deep.equal({});
      await m.settle('ack');
    });

    it('carries the publishing user (user_id) from 0-9-1 to 1.0', async () => {
      const { q } = names();
      await t091.declare(queueTopology(q));
      const inbox = new Inbox();
      await t10.consume([q], { prefetch: 5 }, inbox.push);
      await admin.with(async (ch) => ch.sendToQueue(q, Buffer.from('{}'), { contentType: 'application/json', userId: 'guest' }));
      const m = await inbox.next();
      expect(m.userId).to.equal('guest');
      await m.settle('ack');
    });

    it('delivers over 0-9-1 what was published over 1.0: same bytes, oslo properties, exchange and key; headers only inside x-amqp-1.0-*', async () => {
      const { q, x } = names();
      await t091.declare(queueTopology(q, { exchange: x }));
      const inbox = new Inbox();
      await t091.consume([q], { prefetch: 5 }, inbox.push);
      const bytes = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify({ method: 'ping', args: {} }) }));
      expect(await t10.publish({ exchange: x, routingKey: q, body: bytes, contentType: 'application/json', expirationMs: 60000, headers: { 'x-a': 'b' } })).to.equal('confirmed');
      const m = await inbox.next();
      expect(m.body.equals(bytes)).to.equal(true);
      expect(m).to.deep.include({ exchange: x, routingKey: q, contentType: 'application/json', contentEncoding: 'utf-8', redelivered: false });
      expect(m.headers).to.not.have.property('x-a');
      expect(Object.keys(m.headers)).to.include('x-amqp-1.0-app-properties');
      await m.settle('ack');
    });

    it("publishes with the 0-9-1 properties oslo's kombu needs (delivery_mode 2, priority 0, expiration) from 1.0", async () => {
      const { q } = names();
      await t091.declare(queueTopology(q));
      await t10.publish(json('', q, { n: 1 }, { expirationMs: 2000 }));
      const got = await admin.with((ch) => ch.get(q, { noAck: true }));
      if (!got) throw new Error('no message');
      expect(got.properties).to.deep.include({ contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, expiration: '2000' });
    });
  });

  describe('oslo replies', () => {
    it('replies to an existing oslo reply queue (x-expires) through the default exchange without re-declaring it', async () => {
      const topo = replyQueueTopology();
      const reply = topo.queues[0]?.name ?? '';
      await t091.declare(topo);
      const out = replyOutbound(reply, encodeFinalReply('m1', { result: 42 }));
      expect(out.mandatory).to.equal(true);
      expect(await t10.publish(out)).to.equal('confirmed');
      expect(await t10.publish(out)).to.equal('confirmed');
      expect(await admin.messageCount(reply)).to.equal(2);
      // The session survived (a re-declare would have ended it with precondition-failed).
      expect(tap.lines.some((l) => l.msg === 'publish session ended')).to.equal(false);
      await admin.remove([reply]);
    });
  });

  describe('guards', () => {
    it('refuses a named exchange with an empty routing key (the 3.x poison bug), before anything is sent', async () => {
      const { q, x } = names();
      await t091.declare({ exchanges: [{ name: x, type: 'fanout', durable: false, autoDelete: false }], queues: [{ name: q, durable: false, autoDelete: false, exclusive: false }], bindings: [{ queue: q, exchange: x, routingKey: '' }] });
      const err = await t10.publish(json(x, '', { n: 1 })).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TransportError);
      expect((err as TransportError).message).to.contain('empty routing key');
      expect((err as TransportError).details).to.include({ outcome: 'not_sent' });
      expect(await admin.messageCount(q)).to.equal(0);
      // A fanout exchange ignores the key: any non-empty key reaches the queue.
      expect(await t10.publish(json(x, 'any', { n: 2 }))).to.equal('confirmed');
      expect(await admin.messageCount(q)).to.equal(1);
    });

    it('refuses names with "/" (v1 addresses cannot escape them)', async () => {
      const err = await t10.publish(json('a/b', 'k', {})).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(TransportError);
      expect(String((err as Error).message)).to.contain('"/"');
    });
  });

  describe('topology over the 0-9-1 admin connection', () => {
    it('declares an exclusive queue as auto-delete (+x-expires) so 1.0 can consume it; it goes with the consumer', async () => {
      const { q, x } = names();
      // The shape `hostwall events` declares.
      await t10.declare({
        exchanges: [{ name: x, type: 'topic', durable: false, autoDelete: false }],
        queues: [{ name: q, durable: false, autoDelete: true, exclusive: true }],
        bindings: [{ queue: q, exchange: x, routingKey: 'h1.#' }],
      });
      const inbox = new Inbox();
      await t10.consume([q], { prefetch: 10 }, inbox.push);
      await t091.publish(json(x, 'h1.instance.state', { e: 1 }));
      const m = await inbox.next();
      expect(m.routingKey).to.equal('h1.instance.state');
      await m.settle('ack');
      await t10.close();
      expect(await admin.exists(q)).to.equal(false);
    });
  });

  describe('sender links', () => {
    it('publishes to more targets than maxSenderLinks, detaching idle links', async () => {
      const t = await open10({ maxSenderLinks: 3 });
      try {
        const { q, x } = names();
        const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
        await t091.declare({
          exchanges: [{ name: x, type: 'topic', durable: false, autoDelete: false }],
          queues: [{ name: q, durable: false, autoDelete: false, exclusive: false }],
          bindings: [{ queue: q, exchange: x, routingKey: '#' }],
        });
        for (const k of keys) expect(await t.publish(json(x, k, { k }))).to.equal('confirmed');
        expect(await t.publish(json(x, 'k0', { again: true }))).to.equal('confirmed');
        // Concurrently: busy links are never detached, not even the one just opened.
        const burst = await Promise.all(keys.map((k) => t.publish(json(x, `${k}.b`, { k }))));
        expect(burst.every((r) => r === 'confirmed')).to.equal(true);
        expect(await admin.messageCount(q)).to.equal(21);
      } finally {
        await t.close();
      }
    });
  });

  describe('prefetch 0', () => {
    it('consumes without a bound (1000 credit) and keeps topping credit up', async () => {
      const { q } = names();
      await t091.declare(queueTopology(q));
      const got: InboundMessage[] = [];
      const all = new Promise<void>((resolve) => {
        void t10.consume([q], { prefetch: 0 }, ackOnReceipt((m) => {
          got.push(m);
          if (got.length === 1200) resolve();
        }));
      });
      await Promise.all(Array.from({ length: 1200 }, (_, i) => t10.publish(json('', q, { i }))));
      await all;
      expect(got.length).to.equal(1200);
    });
  });

  describe('generic address family (operator templates, topology not ours)', () => {
    it('publishes and consumes through templated addresses and leaves topology to the operator', async () => {
      const { q, x } = names();
      const t = await open10({
        addresses: 'generic',
        // RabbitMQ 3.x's v1 forms, spelled as an operator would for another broker.
        templates: { exchange: '/exchange/{exchange}/{routingKey}', queue: '/amq/queue/{queue}', source: '/amq/queue/{queue}' },
      });
      try {
        await t091.declare(queueTopology(q, { exchange: x }));
        await t.declare(queueTopology(`${q}-not-declared`));
        expect(await admin.exists(`${q}-not-declared`)).to.equal(false);
        expect(tap.lines.some((l) => /operator provisions/.test(l.msg))).to.equal(true);
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        expect(await t.publish(json(x, q, { via: 'exchange' }))).to.equal('confirmed');
        expect(await t.publish(json('', q, { via: 'queue' }))).to.equal('confirmed');
        const a = await inbox.next();
        const b = await inbox.next();
        expect([a, b].map((m) => (JSON.parse(m.body.toString()) as { via: string }).via).sort()).to.deep.equal(['exchange', 'queue']);
        expect(a.routingKey).to.equal(q);
        await Promise.all([a.settle('ack'), b.settle('ack')]);
      } finally {
        await t.close();
      }
    });
  });
});

describe('amqp10 transport without a broker', () => {
  it('fails start() with a TransportError naming the URL (password hidden) when nothing answers', async () => {
    const t = createAmqp10Transport({ url: 'amqp10://guest:s3cret@127.0.0.1:1/', adminUrl: false, startTimeoutMs: 1500, reconnectMinMs: 100, reconnectMaxMs: 200 });
    const err = await t.start().then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportError);
    expect(String((err as Error).message)).to.contain('127.0.0.1:1').and.not.contain('s3cret');
    await t.close();
  });

  it('explains a broker that answers only AMQP 0-9-1 (RabbitMQ 3.x without the plugin)', async () => {
    // A stand-in for such a broker: it answers the 1.0 protocol header with the 0-9-1 one and hangs up.
    const server = createServer((s) => s.once('data', () => s.end(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    const port = addr && typeof addr === 'object' ? addr.port : 0;
    const t = createAmqp10Transport({ url: `amqp10://guest:guest@127.0.0.1:${port}/`, adminUrl: false, startTimeoutMs: 1000, reconnectMinMs: 100, reconnectMaxMs: 200 });
    try {
      const err = await t.start().then(() => undefined, (e: unknown) => e);
      expect(String((err as Error).message)).to.contain('rabbitmq-plugins enable rabbitmq_amqp1_0');
    } finally {
      await t.close();
      server.close();
    }
  });

  it('fails start() when the topology (0-9-1) connection cannot be made', async () => {
    const t = createAmqp10Transport({ url: 'amqp10://guest:guest@127.0.0.1:1/', startTimeoutMs: 1000, reconnectMinMs: 100, reconnectMaxMs: 200 });
    const err = await t.start().then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(TransportError);
    expect(String((err as Error).message)).to.contain('amqp://guest:***@127.0.0.1:1');
    await t.close();
  });
});
