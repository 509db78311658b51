/**
 * The transport conformance suite (Watermill's `pubsub/tests` habit): the
 * same test bodies run against every Transport implementation, on a real
 * RabbitMQ, in a vhost of their own. Where a broker forces a transport to
 * differ, the factory's `features` say so and the test asserts the documented
 * behaviour instead of skipping silently.
 *
 * Observation is through the broker (a plain 0-9-1 Admin connection) and
 * through what the transport logs ("consumers resumed"): no sleeps.
 */
import { expect } from 'chai';
import { QueueTakenError, TransportError } from '../../../src/errors';
import type { Topology } from '../../../src/transport/transport';
import { Admin, addVhost, deleteVhost, RABBITMQCTL, rabbitmqctl, uid } from '../../support/broker';
import { Inbox } from '../../support/inbox';
import { json, LogTap, queueTopology } from '../transport-fixtures.test';
import { CuttableProxy } from './proxy';
import type { ConformantTransport, TransportFactory } from './broker';

const body = (m: { body: Buffer }): unknown => JSON.parse(m.body.toString());

export function transportConformance(factory: TransportFactory): void {
  (RABBITMQCTL ? describe : describe.skip)(`transport conformance: ${factory.name}`, function () {
    this.timeout(60_000);
    const vhost = `hostwall_conf_${uid()}`;
    let url: string;
    let admin: Admin;
    let tap: LogTap;
    let t: ConformantTransport;

    before(async () => {
      url = await addVhost(vhost);
      admin = await Admin.open(url);
    });
    after(async () => {
      await admin?.close();
      await deleteVhost(vhost);
    });
    beforeEach(async () => {
      tap = new LogTap();
      t = factory.create(url, tap.log);
      await t.start();
    });
    afterEach(async () => {
      await t.close();
    });

    const names = (): { q: string; x: string } => {
      const id = uid();
      return { q: `conf-q-${id}`, x: `conf-x-${id}` };
    };

    /** Drop every connection of the vhost (the transport's and the admin's); resolves when `line` is logged. */
    async function dropConnections(line: (msg: string) => boolean): Promise<void> {
      const seen = tap.next(line, 30_000);
      await rabbitmqctl('close_all_connections', '--vhost', vhost, 'hostwall conformance test');
      await seen;
      admin = await Admin.open(url);
    }

    describe('declare and publish', () => {
      it('declares a topology idempotently and publishes through its binding, confirmed', async () => {
        const { q, x } = names();
        await t.declare(queueTopology(q, { exchange: x }));
        await t.declare(queueTopology(q, { exchange: x }));
        expect(await t.publish(json(x, q, { n: 1 }))).to.equal('confirmed');
        expect(await admin.messageCount(q)).to.equal(1);
      });

      it('publishes with the properties oslo sets: content type/encoding, delivery_mode 2, priority 0, expiration', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        expect(await t.publish(json('', q, { n: 1 }, { contentEncoding: 'utf-8', expirationMs: 60000 }))).to.equal('confirmed');
        const got = await admin.with((ch) => ch.get(q, { noAck: true }));
        if (!got) throw new Error('no message');
        expect(got.properties).to.deep.include({ contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, expiration: '60000' });
        expect(body({ body: got.content })).to.deep.equal({ n: 1 });
      });

      it("resolves a mandatory publish nobody can receive as the broker allows: 'unroutable', or 'confirmed' where the broker has no such signal", async () => {
        const { x } = names();
        await t.declare({ exchanges: [{ name: x, type: 'topic', durable: false, autoDelete: false }], queues: [], bindings: [] });
        const expected = factory.features.unroutable ? 'unroutable' : 'confirmed';
        expect(await t.publish(json(x, 'nobody', { n: 1 }, { mandatory: true }))).to.equal(expected);
        expect(await t.publish(json('', `reply_${uid()}`, { n: 2 }, { mandatory: true }))).to.equal(expected);
        expect(await t.publish(json(x, 'nobody', { n: 3 }))).to.equal('confirmed');
      });

      it('rejects a publish to a missing exchange with a TransportError, then publishes again', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const err = await t.publish(json(`conf-missing-${uid()}`, 'k', {})).then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(TransportError);
        expect(String((err as Error).message)).to.match(/NOT_FOUND|not-found|channel closed/);
        expect(await t.publish(json('', q, { after: true }))).to.equal('confirmed');
        expect(await admin.messageCount(q)).to.equal(1);
      });

      it('confirms a burst of publishes, every one', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const results = await Promise.all(Array.from({ length: 500 }, (_, i) => t.publish(json('', q, { i }))));
        expect(results.every((r) => r === 'confirmed')).to.equal(true);
        expect(await admin.messageCount(q)).to.equal(500);
      });
    });

    describe('consume and settle', () => {
      it('delivers with the fields of the publish: body, content type, routing key, queue, headers', async () => {
        const { q, x } = names();
        await t.declare(queueTopology(q, { exchange: x }));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 10 }, inbox.push);
        await t.publish(json(x, q, { n: 1 }, { contentEncoding: 'utf-8', headers: { 'x-test': 'yes', n: 7 } }));
        const m = await inbox.next();
        expect(m).to.deep.include({ queue: q, routingKey: q, contentType: 'application/json', contentEncoding: 'utf-8', redelivered: false });
        expect(m.exchange).to.equal(factory.features.inboundExchange ? x : '');
        expect(m.headers).to.deep.equal({ 'x-test': 'yes', n: 7 });
        expect(body(m)).to.deep.equal({ n: 1 });
        await m.settle('ack');
      });

      it("'ack' removes the message; 'requeue' redelivers it with redelivered set", async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 10 }, inbox.push);
        await t.publish(json('', q, { n: 1 }));
        const first = await inbox.next();
        expect(first.redelivered).to.equal(false);
        await first.settle('requeue');
        const again = await inbox.next();
        expect(again.redelivered).to.equal(true);
        expect(body(again)).to.deep.equal({ n: 1 });
        await again.settle('ack');
        await t.cancelConsumers();
        expect(await admin.messageCount(q)).to.equal(0);
      });

      it('ignores a second settle of the same delivery, and keeps consuming', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 10 }, inbox.push);
        await t.publish(json('', q, { n: 1 }));
        const m = await inbox.next();
        await m.settle('ack');
        await m.settle('ack');
        await m.settle('requeue');
        await t.publish(json('', q, { n: 2 }));
        // The channel (session) survived: the next message arrives on it and is acked.
        const m2 = await inbox.next();
        expect(body(m2)).to.deep.equal({ n: 2 });
        await m2.settle('ack');
        expect(tap.lines.some((l) => /consumer channel closed|consumer session ended/.test(l.msg))).to.equal(false);
        await t.cancelConsumers();
        expect(await admin.messageCount(q)).to.equal(0);
      });

      it('limits unsettled deliveries to the prefetch, and delivers more as they are settled', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        for (let i = 0; i < 5; i++) await t.publish(json('', q, { i }));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 2 }, inbox.push);
        const a = await inbox.next();
        await inbox.next();
        // The broker hands out what the credit allows as soon as the consumer is
        // there: three still ready once two have arrived means no third was sent.
        expect(await admin.messageCount(q)).to.equal(3);
        await a.settle('ack');
        const c = await inbox.next();
        expect(body(c)).to.deep.equal({ i: 2 });
        // One settled, one more delivered, and no further: two still ready.
        expect(await admin.messageCount(q)).to.equal(2);
      });

      it('consumes several queues in one call', async () => {
        const a = names().q;
        const b = names().q;
        await t.declare({ exchanges: [], queues: [a, b].map((name) => ({ name, durable: false, autoDelete: false, exclusive: false })), bindings: [] });
        const inbox = new Inbox();
        await t.consume([a, b], { prefetch: 5 }, inbox.push);
        await t.publish(json('', a, { q: 'a' }));
        await t.publish(json('', b, { q: 'b' }));
        const got = [await inbox.next(), await inbox.next()];
        expect(got.map((m) => m.queue).sort()).to.deep.equal([a, b].sort());
        await Promise.all(got.map((m) => m.settle('ack')));
      });

      it('cancelConsumers stops new deliveries; messages already delivered can still be settled', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        await t.publish(json('', q, { n: 1 }));
        const m = await inbox.next();
        await t.cancelConsumers();
        // Confirmed means enqueued, and a queue with a consumer would have handed it
        // out then: still ready afterwards means no consumer was left.
        await t.publish(json('', q, { n: 2 }));
        expect(await admin.messageCount(q)).to.equal(1);
        await m.settle('ack');
        expect(await admin.messageCount(q)).to.equal(1);
        expect(inbox.pending, 'nothing delivered after cancelConsumers').to.equal(0);
      });

      it("a handler that rejects has its delivery requeued (logged); 'leave' holds it until the channel closes", async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        let calls = 0;
        const redelivered = new Promise<boolean>((resolve) => {
          void t.consume([q], { prefetch: 5 }, async (m) => {
            calls++;
            if (calls === 1) throw new Error('handler failed');
            resolve(m.redelivered);
            return 'leave';
          });
        });
        await t.publish(json('', q, { n: 1 }));
        expect(await redelivered).to.equal(true);
        expect(tap.lines.some((l) => l.msg === 'message handler failed; message requeued')).to.equal(true);
        await t.cancelConsumers();
        await t.drained();
        expect(t.inFlight()).to.equal(0);
        await t.close();
        expect(await admin.messageCount(q)).to.equal(1);
      });

      it('counts deliveries in handlers; drained() resolves once the last handler has answered', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        await t.publish(json('', q, { n: 1 }));
        await t.publish(json('', q, { n: 2 }));
        const a = await inbox.next();
        const b = await inbox.next();
        expect(t.inFlight()).to.equal(2);
        await t.cancelConsumers();
        let drained = false;
        const done = t.drained().then(() => {
          drained = true;
        });
        await a.settle('ack');
        expect(drained).to.equal(false);
        await b.settle('ack');
        await done;
        expect(t.inFlight()).to.equal(0);
        expect(await admin.messageCount(q)).to.equal(0);
      });

      it('close() gives unsettled messages back to their queue', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        await t.publish(json('', q, { n: 1 }));
        await t.publish(json('', q, { n: 2 }));
        await inbox.next();
        await inbox.next();
        await t.close();
        expect(await admin.messageCount(q)).to.equal(2);
      });

      it('refuses to consume a missing queue with a TransportError, and keeps working', async () => {
        const { q } = names();
        const err = await t.consume([`conf-missing-${uid()}`], { prefetch: 1 }, async () => 'leave' as const).then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(TransportError);
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 1 }, inbox.push);
        expect(await t.publish(json('', q, { ok: true }))).to.equal('confirmed');
        await (await inbox.next()).settle('ack');
      });

      it('re-declares and resumes when the queue it consumes is deleted', async () => {
        const { q, x } = names();
        await t.declare(queueTopology(q, { exchange: x }));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        const resumed = tap.next((m) => m === 'consumers resumed', 30_000);
        await admin.remove([q]);
        await resumed;
        expect(await t.publish(json(x, q, { after: 'resume' }))).to.equal('confirmed');
        const m = await inbox.next();
        expect(body(m)).to.deep.equal({ after: 'resume' });
        await m.settle('ack');
      });
    });

    describe('tools: stream reader and queue drain (replay, inspect), on the transport\'s own connection', () => {
      it('drains a queue: counts it, holds what it takes, removes what it is told to, gives the rest back in order', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        for (const n of [1, 2, 3]) await t.publish(json('', q, { n }, { headers: { n } }));
        const drain = await t.drainQueue?.(q);
        if (!drain) throw new Error('the transport cannot drain a queue');
        try {
          expect(drain.count).to.equal(3);
          const first = await drain.next();
          const second = await drain.next();
          expect(body(first ?? { body: Buffer.from('null') })).to.deep.equal({ n: 1 });
          expect(second?.ref).to.match(new RegExp(`^${q}#`));
          first?.remove();
        } finally {
          await drain.close();
        }
        const again = await t.drainQueue?.(q);
        try {
          expect(again?.count).to.equal(2);
          expect(body((await again?.next()) ?? { body: Buffer.from('null') })).to.deep.equal({ n: 2 });
        } finally {
          await again?.close();
        }
      });

      it('refuses to drain a missing queue with a TransportError that says so', async () => {
        const err = await t.drainQueue?.(`conf-missing-${uid()}`).then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(TransportError);
        expect((err as TransportError).details.missing).to.equal(true);
      });

      it('reads a stream from its first record, and reads back a record it appended', async () => {
        const s = `conf-stream-${uid()}`;
        await t.declare({ exchanges: [], queues: [{ name: s, durable: true, autoDelete: false, exclusive: false, arguments: { 'x-queue-type': 'stream' } }], bindings: [] });
        try {
          await admin.with(async (ch) => {
            ch.sendToQueue(s, Buffer.from('{"n":1}'), { headers: { 'x-test': 'one' } });
          });
          const reader = await t.readStream?.(s, 'first', { prefetch: 10 });
          if (!reader) throw new Error('the transport cannot read a stream');
          try {
            const r = await reader.next(5000);
            expect(r?.headers['x-test']).to.equal('one');
            expect(r?.offset).to.equal(0);
            await reader.append({ body: Buffer.from('{"n":2}'), contentType: 'application/json', headers: { 'x-test': 'two' } });
            const appended = await reader.next(5000);
            expect(appended?.headers['x-test']).to.equal('two');
            expect(await reader.next(200)).to.equal(undefined);
          } finally {
            await reader.close();
          }
        } finally {
          await admin.with((ch) => ch.deleteQueue(s));
        }
      });
    });

    describe('exclusive consume (one worker per host: ConsumeOptions.exclusive)', () => {
      let other: ConformantTransport | undefined;
      afterEach(async () => {
        await other?.close();
        other = undefined;
      });
      const second = async (): Promise<ConformantTransport> => {
        other = factory.create(url, new LogTap().log);
        await other.start();
        return other;
      };
      const quorum = (q: string): Topology => ({ exchanges: [], queues: [{ name: q, durable: true, autoDelete: false, exclusive: false, arguments: { 'x-queue-type': 'quorum' } }], bindings: [] });

      for (const type of ['classic', 'quorum'] as const) {
        it(`refuses a second exclusive consumer of a ${type} queue with QueueTakenError; the first gets every message`, async () => {
          const { q } = names();
          await t.declare(type === 'quorum' ? quorum(q) : queueTopology(q));
          const inbox = new Inbox();
          await t.consume([q], { prefetch: 10, exclusive: [q] }, inbox.push);
          const o = await second();
          const err = await o.consume([q], { prefetch: 10, exclusive: [q] }, async () => 'leave' as const).then(() => undefined, (e: unknown) => e);
          expect(err).to.be.instanceOf(QueueTakenError);
          expect((err as QueueTakenError).details).to.deep.equal({ queue: q });
          for (let n = 0; n < 4; n++) await t.publish(json('', q, { n }));
          for (let n = 0; n < 4; n++) expect(body(await inbox.next())).to.deep.equal({ n });
          await admin.remove([q]);
        });
      }

      it('two at once: exactly one gets the queue', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const o = await second();
        const results = await Promise.all([t, o].map((x) => x.consume([q], { prefetch: 1, exclusive: [q] }, async () => 'leave' as const).then(() => 'consuming', (e: unknown) => e)));
        expect(results.filter((r) => r === 'consuming')).to.have.length(1);
        expect(results.find((r) => r !== 'consuming')).to.be.instanceOf(QueueTakenError);
      });

      it('is refused while another (plain) consumer holds the queue', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        await admin.with(async (ch) => {
          await ch.consume(q, () => undefined);
          const err = await t.consume([q], { prefetch: 1, exclusive: [q] }, async () => 'leave' as const).then(() => undefined, (e: unknown) => e);
          expect(err).to.be.instanceOf(QueueTakenError);
        });
      });

      it('holds the queue while draining (consumers cancelled), and lets it go when its holder closes', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        await t.consume([q], { prefetch: 1, exclusive: [q] }, async () => 'leave' as const);
        await t.cancelConsumers();
        const o = await second();
        const inbox = new Inbox();
        const err = await o.consume([q], { prefetch: 1, exclusive: [q] }, inbox.push).then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(QueueTakenError);
        await t.close();
        await o.consume([q], { prefetch: 1, exclusive: [q] }, inbox.push);
        await o.publish(json('', q, { taken: 'over' }));
        expect(body(await inbox.next())).to.deep.equal({ taken: 'over' });
      });
    });

    describe('reconnect after a network loss (every TCP connection cut by a proxy)', () => {
      let proxy: CuttableProxy;
      let p: ConformantTransport;
      let ptap: LogTap;
      beforeEach(async () => {
        proxy = await new CuttableProxy({ host: new URL(url).hostname, port: Number(new URL(url).port || 5672) }).start();
        ptap = new LogTap();
        p = factory.create(proxy.via(url), ptap.log);
        await p.start();
      });
      afterEach(async () => {
        await p.close();
        await proxy.close();
      });

      it('makes a new connection, redelivers what was unsettled and resumes consuming and publishing', async () => {
        const { q, x } = names();
        await p.declare(queueTopology(q, { exchange: x }));
        const inbox = new Inbox();
        await p.consume([q], { prefetch: 5 }, inbox.push);
        await p.publish(json(x, q, { n: 1 }));
        const stale = await inbox.next();
        expect(p.connectionGeneration).to.equal(1);

        const resumed = ptap.next((m) => m === 'consumers resumed', 30_000);
        expect(proxy.cut()).to.be.greaterThan(0);
        await resumed;

        expect(p.connectionGeneration).to.equal(2);
        await stale.settle('ack'); // its connection is gone: nothing is sent, nothing breaks
        const again = await inbox.next();
        expect(again.redelivered).to.equal(true);
        expect(body(again)).to.deep.equal({ n: 1 });
        await again.settle('ack');
        expect(await p.publish(json(x, q, { n: 2 }))).to.equal('confirmed');
        const m2 = await inbox.next();
        expect(body(m2)).to.deep.equal({ n: 2 });
        await m2.settle('ack');
      });

      it('fails a publish in flight at the loss with a TransportError (outcome unknown), then publishes again', async () => {
        const { q } = names();
        await p.declare(queueTopology(q));
        const up = ptap.next((m) => /connection up$/.test(m), 30_000);
        const inFlight = Array.from({ length: 50 }, (_, i) => p.publish(json('', q, { i })).then(() => 'ok', (e: unknown) => e));
        proxy.cut();
        const outcomes = await Promise.all(inFlight);
        for (const o of outcomes) if (o !== 'ok') expect(o).to.be.instanceOf(TransportError);
        await up;
        expect(await p.publish(json('', q, { after: true }))).to.equal('confirmed');
      });
    });

    describe('reconnect (rabbitmqctl close_all_connections in the suite vhost)', () => {
      it('reconnects, re-declares the topology (an auto-delete queue came back) and resumes consuming', async () => {
        const { q, x } = names();
        const topo: Topology = queueTopology(q, { exchange: x, autoDelete: true });
        await t.declare(topo);
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        expect(await t.publish(json(x, q, { before: true }))).to.equal('confirmed');
        await (await inbox.next()).settle('ack');

        await dropConnections((m) => m === 'consumers resumed');

        expect(await admin.exists(q)).to.equal(true);
        expect(await t.publish(json(x, q, { after: true }))).to.equal('confirmed');
        const m = await inbox.next();
        expect(body(m)).to.deep.equal({ after: true });
        await m.settle('ack');
      });

      it('redelivers what was unsettled at the loss; settling the stale delivery is a harmless no-op', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        const inbox = new Inbox();
        await t.consume([q], { prefetch: 5 }, inbox.push);
        await t.publish(json('', q, { n: 1 }));
        const stale = await inbox.next();
        expect(stale.redelivered).to.equal(false);

        await dropConnections((m) => m === 'consumers resumed');

        await stale.settle('ack');
        const again = await inbox.next();
        expect(again.redelivered).to.equal(true);
        expect(body(again)).to.deep.equal({ n: 1 });
        await again.settle('ack');
        await t.cancelConsumers();
        expect(await admin.messageCount(q)).to.equal(0);
      });

      it('publishes again after the loss', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        await t.publish(json('', q, { n: 1 }));
        await dropConnections((m) => /connection up$/.test(m));
        expect(await t.publish(json('', q, { n: 2 }))).to.equal('confirmed');
        expect(await admin.messageCount(q)).to.equal(2);
      });

      it('does not resume consumers that were cancelled before the loss', async () => {
        const { q } = names();
        await t.declare(queueTopology(q));
        await t.consume([q], { prefetch: 1 }, async () => 'ack' as const);
        await t.cancelConsumers();
        await dropConnections((m) => /connection up$/.test(m));
        await t.publish(json('', q, { n: 1 }));
        expect(await admin.messageCount(q)).to.equal(1);
        expect(tap.lines.some((l) => l.msg === 'consumers resumed')).to.equal(false);
      });
    });
  });
}
