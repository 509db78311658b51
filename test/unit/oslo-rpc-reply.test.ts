import { expect } from 'chai';
import { IntentFailure } from '../../src/errors';
import { decodeOsloBody } from '../../src/oslo/envelope';
import { RemoteError, serializeFailure } from '../../src/oslo/failure';
import {
  CallReplies, decodeRpcReply, encodeFinalReply, encodeHeartbeat, heartbeatIntervalMs, replyOutbound,
} from '../../src/oslo/rpc-reply';

/** A success reply captured from a real oslo.messaging 14.0.3 server (docs/oslo-wire.md#replies). */
const CAPTURED_REPLY =
  '{"oslo.version": "2.0", "oslo.message": "{\\"result\\": 42, \\"failure\\": null, \\"ending\\": true, ' +
  '\\"_msg_id\\": \\"7ed942756f2b4d08829b0aa2215b5619\\", \\"_unique_id\\": \\"86614db2a73c476e94079c13309d5c2b\\"}"}';

describe('oslo RPC reply', () => {
  it('encodes the final reply with the same keys as the captured one', () => {
    const captured = decodeOsloBody(Buffer.from(CAPTURED_REPLY), 'application/json');
    const ours = encodeFinalReply('7ed942756f2b4d08829b0aa2215b5619', { result: 42 });
    expect(Object.keys(ours)).to.deep.equal(Object.keys(captured));
    expect(ours).to.deep.include({ result: 42, failure: null, ending: true, _msg_id: '7ed942756f2b4d08829b0aa2215b5619' });
    expect(ours._unique_id).to.match(/^[0-9a-f]{32}$/).and.not.equal(captured._unique_id);
  });

  it('encodes a failure reply with result null and failure as a JSON string', () => {
    const failure = serializeFailure(new IntentFailure('INSTANCE_NOT_FOUND', 'gone'));
    const r = encodeFinalReply('m', { failure });
    expect(r).to.deep.include({ result: null, failure, ending: true });
    expect(typeof r.failure).to.equal('string');
  });

  it('encodes an undefined result as null (Python None)', () => {
    expect(encodeFinalReply('m', { result: undefined }).result).to.equal(null);
  });

  it('encodes heartbeats as result/failure null and ending false', () => {
    expect(encodeHeartbeat('m')).to.deep.include({ result: null, failure: null, ending: false, _msg_id: 'm' });
  });

  it('heartbeats only for a numeric _timeout of 2 s or more, every int(_timeout)/2 s', () => {
    expect(heartbeatIntervalMs(null)).to.equal(undefined);
    expect(heartbeatIntervalMs(undefined)).to.equal(undefined);
    expect(heartbeatIntervalMs(1)).to.equal(undefined);
    expect(heartbeatIntervalMs(1.9)).to.equal(undefined);
    expect(heartbeatIntervalMs(2)).to.equal(1000);
    expect(heartbeatIntervalMs(5)).to.equal(2500);
    expect(heartbeatIntervalMs(4.9)).to.equal(2000);
  });

  it('addresses replies to the reply queue through the default exchange, mandatory, without expiration', () => {
    const out = replyOutbound('reply_abc', encodeFinalReply('m', { result: 1 }));
    expect(out).to.include({ exchange: '', routingKey: 'reply_abc', mandatory: true, contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(out.expirationMs).to.equal(undefined);
    expect(out.headers).to.deep.equal({});
  });

  it('decodes the captured reply as a final result', () => {
    const r = decodeRpcReply(decodeOsloBody(Buffer.from(CAPTURED_REPLY), 'application/json'));
    expect(r).to.deep.include({ msgId: '7ed942756f2b4d08829b0aa2215b5619', ending: true, value: { kind: 'result', result: 42 } });
  });

  it('folds replies like the Python client: heartbeat, legacy two-part, missing ending, failure', () => {
    const hb = new CallReplies();
    expect(hb.accept({ msgId: 'm', uniqueId: undefined, ending: false, value: { kind: 'none' } })).to.equal('heartbeat');
    expect(hb.finished).to.equal(false);
    expect(() => hb.outcome()).to.throw(/no final reply/);

    const legacy = new CallReplies();
    expect(legacy.accept({ msgId: 'm', uniqueId: undefined, ending: false, value: { kind: 'result', result: 'X' } })).to.equal('partial');
    expect(legacy.accept({ msgId: 'm', uniqueId: undefined, ending: true, value: { kind: 'none' } })).to.equal('final');
    expect(legacy.outcome()).to.equal('X');

    const noEnding = decodeRpcReply({ result: 1, failure: null, _msg_id: 'm' });
    expect(noEnding?.ending).to.equal(false);

    const none = new CallReplies();
    none.accept({ msgId: 'm', uniqueId: undefined, ending: true, value: { kind: 'none' } });
    expect(none.outcome()).to.equal(null);

    const failed = new CallReplies();
    const reply = decodeRpcReply(encodeFinalReply('m', { failure: serializeFailure(new IntentFailure('TIMEOUT', 'too slow')) }));
    if (!reply) throw new Error('not a reply');
    failed.accept(reply);
    expect(() => failed.outcome()).to.throw(RemoteError, 'Timeout: too slow');
  });

  it('returns undefined for something that is not a reply', () => {
    expect(decodeRpcReply({ failure: 12 })).to.equal(undefined);
  });
});
