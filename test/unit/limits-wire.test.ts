/**
 * The bounds on what a hostile message can make the worker store, echo or
 * send (issue 15): identifiers, the copy of its headers in a dead letter,
 * and the size check a publish passes before it is sent.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { COPIED_HEADER_LIMITS, copyHeaders } from '../../src/limits/copied-headers';
import { checkIdentifiers, cut, MAX_CARRIED_CHARS, type NamedFields } from '../../src/limits/identifiers';
import { contentHeaderBytes, sizeProblem, tableBytes } from '../../src/transport/amqp091/message-size';

const req = (over: Partial<NamedFields> = {}): NamedFields => ({
  method: 'instance.pause', namespace: 'hostwall', version: '1.0', uniqueId: '0123456789abcdef0123456789abcdef', call: undefined, ...over,
});
const refusal = (f: () => void): string => {
  try {
    f();
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  return 'accepted';
};

describe('identifier bounds', () => {
  it('accepts what oslo and Nova send', () => {
    expect(refusal(() => checkIdentifiers(req()))).to.equal('accepted');
    expect(refusal(() => checkIdentifiers(req({ method: 'build_and_run_instance', namespace: undefined, version: '6.0', call: { msgId: 'f'.repeat(32), replyQueue: `reply_${'a'.repeat(32)}` } })))).to.equal('accepted');
    expect(refusal(() => checkIdentifiers(req({ uniqueId: '3f2d5b6a-1c2d-4e5f-9a8b-7c6d5e4f3a2b' })))).to.equal('accepted');
  });

  it('refuses, naming the field, an id too long or not made of id characters, and a reply address AMQP cannot route', () => {
    expect(refusal(() => checkIdentifiers(req({ uniqueId: 'u'.repeat(65) })))).to.match(/^NOT_OSLO_ENVELOPE: _unique_id must be at most 64 .*got 65 characters/);
    expect(refusal(() => checkIdentifiers(req({ uniqueId: 'a\u001b[2Jb' })))).to.match(/_unique_id/);
    expect(refusal(() => checkIdentifiers(req({ call: { msgId: 'm'.repeat(3_000_000), replyQueue: 'reply_x' } })))).to.match(/_msg_id .*3000000 characters/);
    expect(refusal(() => checkIdentifiers(req({ call: { msgId: 'abc', replyQueue: 'q'.repeat(256) } })))).to.match(/_reply_q/);
    expect(refusal(() => checkIdentifiers(req({ call: { msgId: 'abc', replyQueue: 'has space' } })))).to.match(/_reply_q/);
    expect(refusal(() => checkIdentifiers(req({ method: 'x'.repeat(256) })))).to.match(/^NOT_OSLO_ENVELOPE: method/);
    expect(refusal(() => checkIdentifiers(req({ namespace: 'n'.repeat(256) })))).to.match(/namespace/);
    expect(refusal(() => checkIdentifiers(req({ version: '1.'.repeat(20) })))).to.match(/version/);
  });

  it('answers only reply queues named as oslo names them, never a compute, hostwall or other queue', () => {
    const call = (replyQueue: string) => refusal(() => checkIdentifiers(req({ call: { msgId: 'abc', replyQueue } })));
    expect(call('reply_0123456789abcdef0123456789abcdef')).to.equal('accepted');
    // oslo.messaging's use_queue_manager names: reply_<hostname>:<processname>:<counter>.
    expect(call('reply_compute-1.example.org:nova-api:3')).to.equal('accepted');
    for (const q of ['compute.other-host', 'compute', 'hostwall.journal', 'hostwall.dead.h1', 'hostwall.tail.x', 'amq.rabbitmq.reply-to',
      'reply_0123456789ABCDEF0123456789ABCDEF', 'reply_0123456789abcdef', 'reply_x', 'xreply_0123456789abcdef0123456789abcdef']) {
      expect(call(q), q).to.match(/^NOT_OSLO_ENVELOPE: _reply_q .*oslo's reply queue name/);
    }
  });

  it('cuts carried strings to their bound with a mark, never inside a surrogate pair', () => {
    expect(cut('short')).to.equal('short');
    const long = cut('r'.repeat(5000));
    expect(long).to.have.length(MAX_CARRIED_CHARS);
    expect(long.endsWith('…')).to.equal(true);
    const emoji = cut(`${'a'.repeat(253)}😀😀`);
    expect(emoji.length).to.be.at.most(MAX_CARRIED_CHARS);
    expect(/[\ud800-\udbff]…$/.test(emoji)).to.equal(false);
  });
});

describe('the copy of a refused message\'s headers', () => {
  it('is whole, with no note, when the headers are small', () => {
    const h = { 'x-a': 'b', n: 3, t: true, z: null };
    expect(copyHeaders(h)).to.deep.equal({ headers: h, note: undefined });
  });

  it('keeps hostwall\'s own headers first, bounds count and bytes, cuts values, flattens tables, and says so', () => {
    const h: Record<string, unknown> = {};
    for (let i = 0; i < 500; i++) h[`x-flood-${i}`] = 'y'.repeat(5000);
    h['k'.repeat(300)] = 'long key';
    h.table = { nested: { deep: [1, 2, 3] } };
    h['x-hostwall-signature'] = 'sha256=abc';
    h['x-hostwall-replay-of'] = 'journal:7';
    const c = copyHeaders(h);
    expect(Object.keys(c.headers).slice(0, 2)).to.deep.equal(['x-hostwall-signature', 'x-hostwall-replay-of']);
    expect(Object.keys(c.headers).length).to.be.at.most(COPIED_HEADER_LIMITS.maxHeaders);
    expect(tableBytes(c.headers)).to.be.at.most(COPIED_HEADER_LIMITS.maxTotalBytes + 512);
    expect(Object.keys(c.headers)).to.not.include('k'.repeat(300));
    expect(String(c.headers['x-flood-0'])).to.have.length(COPIED_HEADER_LIMITS.maxValueBytes);
    expect(c.note).to.match(/^kept \d+ of 504 headers/);
    expect(c.note).to.match(/values cut to 1024 bytes/);
    const t = copyHeaders({ table: { nested: { deep: [1, 2, 3] } }, big: 10n, buf: Buffer.alloc(5000) });
    expect(t.headers.table).to.equal('{"nested":{"deep":[1,2,3]}}');
    expect(t.headers.big).to.equal('"10"');
    expect((t.headers.buf as Buffer).length).to.equal(COPIED_HEADER_LIMITS.maxValueBytes);
    expect(t.note).to.match(/copied as JSON text/);
  });

  it('never cuts inside a UTF-8 character', () => {
    expect(String(copyHeaders({ v: 'é'.repeat(2000) }).headers.v)).to.equal('é'.repeat(512));
    expect(String(copyHeaders({ v: `a${'é'.repeat(2000)}` }).headers.v)).to.equal(`a${'é'.repeat(511)}`);
    expect(String(copyHeaders({ v: `ab${'😀'.repeat(400)}` }).headers.v)).to.equal(`ab${'😀'.repeat(255)}`);
  });
});

describe('a publish that can never fit', () => {
  // amqplib's own encoder, to hold the estimate to what it writes.
  const req = createRequire(__filename);
  const codec = req(join(dirname(req.resolve('amqplib')), 'lib', 'codec.js')) as { encodeTable(buf: Buffer, val: object, offset: number): number };
  const encoded = (t: Record<string, unknown>): number => codec.encodeTable(Buffer.alloc(1 << 20), t, 0);
  const msg = (body: Buffer, headers: Record<string, unknown> = {}) => ({ exchange: '', routingKey: 'q', body, contentType: 'application/json', headers });

  it('estimates a headers table at or above what amqplib encodes', () => {
    for (const t of [{}, { a: 'b' }, { n: 1, f: 1.5, big: 2 ** 60, t: true, z: null }, { arr: [1, 'x', { y: Buffer.alloc(10) }] }, { s: 'é'.repeat(100) }]) {
      expect(tableBytes(t), JSON.stringify(t)).to.be.at.least(encoded(t));
    }
  });

  it('is refused for a body past maxPublishBytes, or properties past one frame; anything else passes', () => {
    expect(sizeProblem(msg(Buffer.alloc(10)), { maxPublishBytes: 100 })).to.equal(undefined);
    expect(sizeProblem(msg(Buffer.alloc(101)), { maxPublishBytes: 100 })).to.match(/101 bytes, larger than the broker's max message size \(100 bytes/);
    const headers = { h: 'x'.repeat(5000) };
    expect(contentHeaderBytes(msg(Buffer.alloc(1), headers))).to.be.above(5000);
    expect(sizeProblem(msg(Buffer.alloc(1), headers), { maxPublishBytes: 100, frameMax: 4096 })).to.match(/larger than one frame \(4096 bytes\)/);
    expect(sizeProblem(msg(Buffer.alloc(1), headers), { maxPublishBytes: 100, frameMax: 131_072 })).to.equal(undefined);
    expect(sizeProblem(msg(Buffer.alloc(1), { h: 'x'.repeat(70_000) }), { maxPublishBytes: 100, frameMax: 131_072 })).to.match(/65536 bytes/);
  });
});
