/**
 * ConfirmPublisher against a fake confirm channel: the outcomes of publish()
 * and the confirm deadlines, which share one timer, without a broker.
 */
import { EventEmitter } from 'node:events';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { expect } from 'chai';
import { TransportError } from '../../src/errors';
import type { BrokerConnection } from '../../src/transport/amqp091/connection';
import { compileOptions } from '../../src/transport/amqp091/options';
import { ConfirmPublisher } from '../../src/transport/amqp091/publisher';
import type { OutboundMessage, PublishResult } from '../../src/transport/transport';

type Confirm = (err: unknown) => void;

class FakeChannel extends EventEmitter {
  readonly sent: { exchange: string; routingKey: string; body: Buffer; confirm: Confirm }[] = [];
  publish(exchange: string, routingKey: string, body: Buffer, _props: unknown, confirm: Confirm): boolean {
    this.sent.push({ exchange, routingKey, body, confirm });
    return true;
  }
  returnOf(i: number): void {
    const s = this.sent[i];
    if (!s) throw new Error(`no publish ${i}`);
    const m = { fields: { exchange: s.exchange, routingKey: s.routingKey }, content: s.body, properties: {} };
    this.emit('return', m as unknown as Message);
  }
  confirm(i: number, err: unknown = null): void {
    this.sent[i]?.confirm(err);
  }
}

function publisherWith(confirmTimeoutMs: number): { pub: ConfirmPublisher; ch: FakeChannel } {
  const ch = new FakeChannel();
  const model = { createConfirmChannel: async () => ch as unknown as ConfirmChannel };
  const conn = { whenUp: async () => model as unknown as ChannelModel };
  const opts = compileOptions({ url: 'amqp://guest:guest@127.0.0.1', confirmTimeoutMs });
  return { pub: new ConfirmPublisher(conn as unknown as BrokerConnection, opts), ch };
}

const msg = (n: number, mandatory = false): OutboundMessage => ({
  exchange: 'x', routingKey: 'k', body: Buffer.from(`{"n":${n}}`), contentType: 'application/json', mandatory,
});

/** How the publish settled, and when (ms after `t0`). */
function outcome(p: Promise<PublishResult>, t0: number): Promise<{ result?: PublishResult; error?: TransportError; at: number }> {
  return p.then(
    (result) => ({ result, at: Date.now() - t0 }),
    (error: unknown) => {
      if (!(error instanceof TransportError)) throw error;
      return { error, at: Date.now() - t0 };
    },
  );
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Timers alive now; counted after a tick, once mocha has armed the test's own. */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('amqp091 ConfirmPublisher (fake channel)', () => {
  it('resolves confirmed, unroutable (returned, then acked), and rejects nacks and channel loss with their outcome', async () => {
    const { pub, ch } = publisherWith(5000);
    const t0 = Date.now();
    const ps = [pub.publish(msg(0)), pub.publish(msg(1, true)), pub.publish(msg(2)), pub.publish(msg(3))].map((p) => outcome(p, t0));
    await tick();
    expect(ch.sent).to.have.length(4);
    ch.confirm(0);
    ch.returnOf(1);
    ch.confirm(1);
    ch.confirm(2, new Error('nack'));
    ch.confirm(3, new Error('channel closed'));
    const [a, b, c, d] = await Promise.all(ps);
    expect(a?.result).to.equal('confirmed');
    expect(b?.result).to.equal('unroutable');
    expect(c?.error?.details).to.include({ outcome: 'nacked', exchange: 'x', routing_key: 'k' });
    expect(d?.error?.message).to.match(/channel closed before the broker confirmed .*outcome unknown/);
  });

  it('matches a return to the earliest unsettled mandatory publish of the same message', async () => {
    const { pub, ch } = publisherWith(5000);
    const t0 = Date.now();
    const ps = [pub.publish(msg(7, true)), pub.publish(msg(7, true))].map((p) => outcome(p, t0));
    await tick();
    ch.confirm(0);
    ch.returnOf(1);
    ch.confirm(1);
    const [a, b] = await Promise.all(ps);
    expect([a?.result, b?.result]).to.deep.equal(['confirmed', 'unroutable']);
  });

  it('fails each unconfirmed publish at its own deadline, and leaves no timer once all have settled', async () => {
    await tick();
    const before = timers();
    const { pub, ch } = publisherWith(300);
    const t0 = Date.now();
    const first = outcome(pub.publish(msg(0)), t0);
    const confirmed = outcome(pub.publish(msg(1)), t0);
    await new Promise((r) => setTimeout(r, 150));
    const late = outcome(pub.publish(msg(2)), t0);
    ch.confirm(1);
    const [a, b, c] = await Promise.all([first, confirmed, late]);
    expect(b?.result).to.equal('confirmed');
    expect(a?.error?.message).to.equal('publish to exchange "x" with key "k": no confirm within 300 ms; outcome unknown');
    expect(a?.error?.details).to.include({ outcome: 'unknown' });
    expect(a?.at).to.be.within(290, 440);
    expect(c?.error?.details).to.include({ outcome: 'unknown' });
    expect(c?.at).to.be.within(440, 600);
    // A confirm after the deadline changes nothing.
    ch.confirm(0);
    expect(timers()).to.equal(before);
  });

  it('leaves no timer behind once every publish is confirmed', async () => {
    await tick();
    const before = timers();
    const { pub, ch } = publisherWith(30_000);
    const ps = Array.from({ length: 50 }, (_, i) => pub.publish(msg(i)));
    await tick();
    expect(timers()).to.equal(before + 1);
    for (let i = 0; i < 50; i++) ch.confirm(i);
    expect(await Promise.all(ps)).to.satisfy((rs: PublishResult[]) => rs.every((r) => r === 'confirmed'));
    expect(timers()).to.equal(before);
  });
});
