import { expect } from 'chai';
import fc from 'fast-check';
import { RejectedError } from '../../src/errors';
import {
  decodeOsloBody, encodeOsloBody, envelopeJson, isEnvelopeVersionCompatible, pythonJson,
} from '../../src/oslo/envelope';

/** The call captured from a real oslo.messaging 14.0.3 client (docs/oslo-wire.md#requests). */
const CAPTURED_CALL =
  '{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"add\\", \\"args\\": {\\"a\\": 2, \\"b\\": 40}, \\"version\\": \\"5.0\\", ' +
  '\\"_msg_id\\": \\"7ed942756f2b4d08829b0aa2215b5619\\", \\"_reply_q\\": \\"reply_24ce308e769d4ada8e59109942760455\\", ' +
  '\\"_timeout\\": null, \\"_unique_id\\": \\"478edbc258ee43e7b088a823cf9b3002\\", \\"_context_user_id\\": \\"u-123\\"}"}';

function rejection(fn: () => unknown): RejectedError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RejectedError);
    if (err instanceof RejectedError) return err;
  }
  throw new Error('expected a RejectedError');
}

describe('oslo envelope', () => {
  it('unwraps a captured 2.0 envelope into the inner message', () => {
    const m = decodeOsloBody(Buffer.from(CAPTURED_CALL), 'application/json', 'utf-8');
    expect(m.method).to.equal('add');
    expect(m.args).to.deep.equal({ a: 2, b: 40 });
    expect(m._timeout).to.equal(null);
    expect(m._context_user_id).to.equal('u-123');
  });

  it('accepts a bare 1.0-style object as the message itself, as deserialize_msg does', () => {
    const m = decodeOsloBody(Buffer.from('{"method": "echo", "args": {}}'), 'application/json');
    expect(m).to.deep.equal({ method: 'echo', args: {} });
  });

  it('treats an object with only one envelope key as a bare message', () => {
    const m = decodeOsloBody(Buffer.from('{"oslo.version": "9.9", "method": "x"}'), 'application/json');
    expect(m.method).to.equal('x');
  });

  it('rejects a missing or different content_type with BAD_CONTENT_TYPE (oslo drops those)', () => {
    expect(rejection(() => decodeOsloBody(Buffer.from('{}'), undefined)).code).to.equal('BAD_CONTENT_TYPE');
    const e = rejection(() => decodeOsloBody(Buffer.from('{}'), 'text/plain'));
    expect(e.code).to.equal('BAD_CONTENT_TYPE');
    expect(e.message).to.contain('text/plain');
    expect(rejection(() => decodeOsloBody(Buffer.from('{}'), 'application/json; charset=utf-8')).code).to.equal('BAD_CONTENT_TYPE');
  });

  it('rejects an unknown content_encoding with BAD_CONTENT_TYPE and decodes latin-1', () => {
    expect(rejection(() => decodeOsloBody(Buffer.from('{}'), 'application/json', 'gzip')).code).to.equal('BAD_CONTENT_TYPE');
    const m = decodeOsloBody(Buffer.from('{"method":"caf\u00e9"}', 'latin1'), 'application/json', 'latin-1');
    expect(m.method).to.equal('café');
  });

  it('rejects bodies that are not JSON, not UTF-8, or whose oslo.message is not JSON with NOT_JSON', () => {
    expect(rejection(() => decodeOsloBody(Buffer.from('{nope'), 'application/json')).code).to.equal('NOT_JSON');
    expect(rejection(() => decodeOsloBody(Buffer.from([0x7b, 0xff, 0x7d]), 'application/json')).code).to.equal('NOT_JSON');
    const inner = '{"oslo.version": "2.0", "oslo.message": "{broken"}';
    expect(rejection(() => decodeOsloBody(Buffer.from(inner), 'application/json')).code).to.equal('NOT_JSON');
  });

  it('rejects non-object messages with NOT_OSLO_ENVELOPE', () => {
    expect(rejection(() => decodeOsloBody(Buffer.from('[1,2]'), 'application/json')).code).to.equal('NOT_OSLO_ENVELOPE');
    expect(rejection(() => decodeOsloBody(Buffer.from('"x"'), 'application/json')).code).to.equal('NOT_OSLO_ENVELOPE');
    const notString = '{"oslo.version": "2.0", "oslo.message": {"method": "x"}}';
    expect(rejection(() => decodeOsloBody(Buffer.from(notString), 'application/json')).code).to.equal('NOT_OSLO_ENVELOPE');
    const innerArray = '{"oslo.version": "2.0", "oslo.message": "[1]"}';
    expect(rejection(() => decodeOsloBody(Buffer.from(innerArray), 'application/json')).code).to.equal('NOT_OSLO_ENVELOPE');
  });

  it('rejects envelope versions oslo would refuse with UNSUPPORTED_ENVELOPE', () => {
    for (const v of ['2.1', '3.0', '1.0', '2', 'abc', '2.0.1']) {
      const body = JSON.stringify({ 'oslo.version': v, 'oslo.message': '{}' });
      const e = rejection(() => decodeOsloBody(Buffer.from(body), 'application/json'));
      expect(e.code, v).to.equal('UNSUPPORTED_ENVELOPE');
      expect(e.osloClass).to.equal('UnsupportedVersion');
    }
    const numeric = JSON.stringify({ 'oslo.version': 2.0, 'oslo.message': '{}' });
    expect(rejection(() => decodeOsloBody(Buffer.from(numeric), 'application/json')).code).to.equal('UNSUPPORTED_ENVELOPE');
  });

  it('follows version_is_compatible("2.0", v) for the versions it accepts', () => {
    for (const v of ['2.0', '2.0.0', '02.00', ' 2.0', '2.-1']) expect(isEnvelopeVersionCompatible(v), v).to.equal(true);
    for (const v of ['2.1', '2.0.1', '1.9', '2.x', '', '2']) expect(isEnvelopeVersionCompatible(v), v).to.equal(false);
  });

  it('encodes the 2.0 envelope with oslo.message as a JSON string and ASCII-only bytes like Python json', () => {
    const inner = { method: 'echo', args: { s: 'héllo 😀' } };
    const body = encodeOsloBody(inner);
    const text = body.toString('utf8');
    expect([...text].every((c) => c.charCodeAt(0) < 0x80)).to.equal(true);
    const outer = JSON.parse(text) as Record<string, unknown>;
    expect(outer['oslo.version']).to.equal('2.0');
    expect(typeof outer['oslo.message']).to.equal('string');
    expect(JSON.parse(String(outer['oslo.message']))).to.deep.equal(inner);
    expect(text).to.contain('h\\\\u00e9llo');
    expect(decodeOsloBody(body, 'application/json', 'utf-8')).to.deep.equal(inner);
  });

  it('writes the v1 (no envelope) form for the legacy messaging notifier', () => {
    expect(JSON.parse(encodeOsloBody({ a: 1 }, 'v1').toString())).to.deep.equal({ a: 1 });
  });

  it('property: encodes byte for byte as the straightforward double encoding does, any UTF-16 included', () => {
    // The reference: both levels through JSON.stringify, each followed by the \uXXXX escaping of every non-ASCII unit.
    const asciiOnly = (text: string): string => text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const reference = (inner: unknown, format: 'v2' | 'v1'): Buffer => {
      const text = asciiOnly(JSON.stringify(inner));
      return Buffer.from(format === 'v2' ? asciiOnly(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': text })) : text, 'utf8');
    };
    const utf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) });
    const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), utf16);
    const inner = fc.dictionary(fc.oneof(fc.string(), utf16), value);
    fc.assert(
      fc.property(inner, fc.constantFrom<'v2' | 'v1'>('v2', 'v1'), (m, format) => {
        expect(encodeOsloBody(m, format).equals(reference(m, format))).to.equal(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes like json.dumps(ensure_ascii=True): surrogate pairs and U+2028 as \\u escapes', () => {
    expect(pythonJson('😀\u2028é')).to.equal('"\\ud83d\\ude00\\u2028\\u00e9"');
    expect(envelopeJson({})).to.equal('{"oslo.version":"2.0","oslo.message":"{}"}');
  });
});
