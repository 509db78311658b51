import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { RejectedError } from '../../src/errors';
import { decodeOsloBody, encodeOsloBody, type OsloMessage } from '../../src/oslo/envelope';
import { encodeRpcRequest, parseRpcRequest, RpcRequestSchema, rpcRoute } from '../../src/oslo/rpc-request';
import { thrownBy } from '../support/failure';

const PY = '/usr/bin/python3';
const CODEC = join(__dirname, '..', '..', '..', 'test', 'compat', 'py', 'oslo_codec.py');

/** Ask the real oslo.messaging codec (one process, one answer per request). */
function oslo(requests: Record<string, unknown>[]): Record<string, unknown>[] {
  const out = execFileSync(PY, [CODEC], { input: requests.map((r) => JSON.stringify(r)).join('\n'), encoding: 'utf8' });
  return out.trim().split('\n').slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const rejection = (fn: () => unknown): RejectedError => thrownBy(RejectedError, fn);

describe('oslo RPC request', () => {
  it('parses a captured 14.0.3 call: fields, call details and the context rebuilt from _context_*', () => {
    const req = parseRpcRequest({
      method: 'add', args: { a: 2, b: 40 }, version: '5.0', _msg_id: '7ed9', _reply_q: 'reply_24ce', _timeout: null,
      _unique_id: '478e', _context_user_id: 'u-123', _context_roles: ['member'], _context_auth_token: 'SECRET-TOKEN',
    });
    expect(req).to.deep.equal({
      method: 'add', args: { a: 2, b: 40 }, version: '5.0', namespace: undefined, uniqueId: '478e',
      call: { msgId: '7ed9', replyQueue: 'reply_24ce', timeoutS: null },
      context: { user_id: 'u-123', roles: ['member'], auth_token: 'SECRET-TOKEN' },
    });
  });

  it('reads a cast (no _msg_id, or _msg_id null) as having no call, and a missing args as {} like the dispatcher', () => {
    expect(parseRpcRequest({ method: 'note', _unique_id: 'u' }).call).to.equal(undefined);
    const r = parseRpcRequest({ method: 'note', namespace: null, _msg_id: null });
    expect(r.call).to.equal(undefined);
    expect(r.args).to.deep.equal({});
    expect(r.namespace).to.equal(undefined);
  });

  it('keeps a numeric call-monitor timeout', () => {
    const r = parseRpcRequest({ method: 'slow', args: {}, _msg_id: 'm', _reply_q: 'q', _timeout: 4 });
    expect(r.call?.timeoutS).to.equal(4);
  });

  it('rejects missing or mistyped fields with NOT_OSLO_ENVELOPE naming them', () => {
    const noMethod = rejection(() => parseRpcRequest({ args: {} }));
    expect(noMethod.code).to.equal('NOT_OSLO_ENVELOPE');
    expect(noMethod.message).to.match(/method/);
    expect(rejection(() => parseRpcRequest({ method: 'x', args: [1] })).message).to.match(/args/);
    expect(rejection(() => parseRpcRequest({ method: 'x', version: 5 })).message).to.match(/version/);
    expect(rejection(() => parseRpcRequest({ method: 'x', _timeout: '4' })).message).to.match(/_timeout/);
    const noReply = rejection(() => parseRpcRequest({ method: 'x', _msg_id: 'm' }));
    expect(noReply.message).to.match(/_reply_q/);
  });

  it('property: parses exactly as RpcRequestSchema does, and refuses what it refuses with its wording', () => {
    // parseRpcRequest skips zod for well-formed requests; this holds the shortcut to the schema.
    const odd = fc.constantFrom<unknown>(null, 0, -1.5, Number.NaN, Number.POSITIVE_INFINITY, true, [], [1], '', 'x', {});
    const field = <T>(good: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: odd, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 2 });
    const record = fc.oneof(
      fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
      fc.constant(JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as unknown),
      fc.constant({ constructor: 'x' }),
      fc.constant(Object.assign(Object.create(null) as object, { a: 1 })),
    );
    const message = fc
      .tuple(
        fc.record(
          {
            method: field(fc.string()),
            args: field(record),
            version: field(fc.string({ maxLength: 5 })),
            namespace: field(fc.string({ maxLength: 5 })),
            _unique_id: field(fc.string({ maxLength: 5 })),
            _msg_id: field(fc.string({ maxLength: 3 })),
            _reply_q: field(fc.string({ maxLength: 3 })),
            _timeout: field(fc.double()),
          },
          { requiredKeys: [] },
        ),
        fc.dictionary(fc.string({ maxLength: 6 }).map((k) => `_context_${k}`), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
        fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
      )
      .map(([fields, context, extra, nullProto]): OsloMessage => {
        const m: OsloMessage = { ...extra, ...context, ...fields };
        return nullProto ? Object.assign(Object.create(null) as OsloMessage, m) : m;
      });
    let accepted = 0;
    fc.assert(
      fc.property(message, (m) => {
        const schema = RpcRequestSchema.safeParse(m);
        if (schema.success) {
          accepted++;
          expect(parseRpcRequest(m)).to.deep.equal(schema.data);
          return;
        }
        const issues = schema.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`);
        expect(rejection(() => parseRpcRequest(m)).message).to.equal(`not an oslo RPC request: ${issues.join('; ')}`);
      }),
      { numRuns: 3000 },
    );
    expect(accepted, 'valid requests among the generated ones').to.be.greaterThan(300);
  });

  it('encodes a call with ids, _timeout and flattened context in the Python client key order', () => {
    const enc = encodeRpcRequest({
      method: 'instance.get_state', args: { instance_uuid: 'i-1' }, version: '1.0', namespace: 'hostwall',
      context: { request_id: 'req-1', issuer: 'operator' }, call: { replyQueue: 'reply_abc', timeoutS: 4 },
    });
    expect(enc.msgId).to.match(/^[0-9a-f]{32}$/);
    expect(enc.uniqueId).to.match(/^[0-9a-f]{32}$/);
    expect(Object.keys(enc.message)).to.deep.equal([
      'method', 'args', 'namespace', 'version', '_msg_id', '_reply_q', '_timeout', '_unique_id', '_context_request_id', '_context_issuer',
    ]);
    expect(enc.message._timeout).to.equal(4);
    const back = parseRpcRequest(enc.message);
    expect(back.call).to.deep.equal({ msgId: enc.msgId, replyQueue: 'reply_abc', timeoutS: 4 });
    expect(back.context).to.deep.equal({ request_id: 'req-1', issuer: 'operator' });
  });

  it('encodes a cast without call fields and a call without monitor as _timeout null', () => {
    const cast = encodeRpcRequest({ method: 'note' });
    expect(cast.msgId).to.equal(undefined);
    expect(cast.message).to.have.keys('method', 'args', '_unique_id');
    expect(encodeRpcRequest({ method: 'm', call: { replyQueue: 'q' } }).message._timeout).to.equal(null);
  });

  it('routes to topic, topic.server and the fanout exchange', () => {
    expect(rpcRoute({ exchange: 'nova', topic: 'compute' })).to.deep.equal({ exchange: 'nova', routingKey: 'compute' });
    expect(rpcRoute({ exchange: 'nova', topic: 'compute', server: 'h1' })).to.deep.equal({ exchange: 'nova', routingKey: 'compute.h1' });
    expect(rpcRoute({ exchange: 'nova', topic: 'compute', fanout: true })).to.deep.equal({ exchange: 'compute_fanout', routingKey: '' });
  });

  (existsSync(PY) ? it : it.skip)('is read by the real oslo.messaging server code exactly as we read it', () => {
    const enc = encodeRpcRequest({
      method: 'echo', args: { s: 'héllo', n: [1, null] }, version: '5.0', context: { user_id: 'u', is_admin: false },
      call: { replyQueue: 'reply_x', timeoutS: 6 },
    });
    const body = encodeOsloBody(enc.message).toString('utf8');
    const [py] = oslo([{ op: 'unpack_request', body }]);
    const ours = parseRpcRequest(decodeOsloBody(Buffer.from(body), 'application/json', 'utf-8'));
    expect(py).to.deep.include({ method: ours.method, args: ours.args, version: '5.0', msg_id: enc.msgId, reply_q: 'reply_x' });
    expect(py?.unique_id).to.equal(enc.uniqueId);
    // oslo adds client_timeout (from _timeout) to the context; the rest is ours.
    expect(py?.context).to.deep.equal({ ...ours.context, client_timeout: 6 });
  });
});
