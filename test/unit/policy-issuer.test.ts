import { expect } from 'chai';
import { RejectedError } from '../../src/errors';
import { IssuerPolicy } from '../../src/policy/issuer-policy';
import { SIGNATURE_HEADERS, signatureHeaders, signatureOf } from '../../src/policy/signature';
import { thrownBy } from '../support/failure';

const body = Buffer.from('{"oslo.version": "2.0", "oslo.message": "{}"}');
const KEY = 'nova-secret-0123456789';
const RK = 'compute.h1';
const creds = (o: { headers?: Record<string, unknown>; userId?: string; claimed?: string; routingKey?: string } = {}) => ({ body, headers: o.headers ?? {}, userId: o.userId, claimed: o.claimed, routingKey: o.routingKey ?? RK });

function refusal(fn: () => unknown): string {
  const err = thrownBy(RejectedError, fn);
  expect(err.code).to.equal('ISSUER_REFUSED');
  return err.message;
}

describe('policy: issuers', () => {
  const verified = new IssuerPolicy({ mode: 'verified', users: { 'nova-svc': 'nova', 'neutron-svc': 'neutron' }, keys: { nova: KEY } });
  const open = new IssuerPolicy({ mode: 'open', users: {}, keys: {} });

  it('open mode admits a message naming no issuer for every kind, and still enforces a claimed one', () => {
    expect(open.admit('instance.spawn', creds()).source).to.equal('none');
    expect(open.admit('instance.spawn', creds({ claimed: 'nova' })).issuer).to.equal('nova');
    expect(refusal(() => open.admit('instance.spawn', creds({ claimed: 'neutron' })))).to.match(/may not send instance.spawn/);
    expect(refusal(() => open.admit('instance.pause', creds({ claimed: 'mallory' })))).to.match(/unknown issuer/);
  });

  it('verified mode takes the AMQP user_id mapped to a role', () => {
    expect(verified.admit('instance.spawn', creds({ userId: 'nova-svc' }))).to.include({ issuer: 'nova', source: 'user_id' });
    expect(refusal(() => verified.admit('instance.spawn', creds({ userId: 'neutron-svc' })))).to.match(/"neutron" may not send instance.spawn/);
    expect(verified.admit('port.ready', creds({ userId: 'neutron-svc' })).issuer).to.equal('neutron');
  });

  it('verified mode refuses a message with no proof, and a claim that contradicts the proof', () => {
    expect(refusal(() => verified.admit('instance.pause', creds({ claimed: 'nova' })))).to.match(/not proven/);
    expect(refusal(() => verified.admit('instance.pause', creds({ userId: 'guest' })))).to.match(/not mapped/);
    expect(refusal(() => verified.admit('port.ready', creds({ userId: 'neutron-svc', claimed: 'nova' })))).to.match(/claims issuer "nova"/);
  });

  it('accepts an HMAC-SHA256 signature over issuer, routing key, time and body, and refuses a forged one', () => {
    const headers = signatureHeaders('nova', KEY, RK, body);
    expect(verified.admit('instance.spawn', creds({ headers }))).to.include({ issuer: 'nova', source: 'signature' });
    expect(refusal(() => verified.admit('instance.spawn', { ...creds({ headers }), body: Buffer.from(`${body.toString()} `) }))).to.match(/does not verify/);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: signatureHeaders('nova', 'wrong-key-0123456789', RK, body) })))).to.match(/does not verify/);
    expect(refusal(() => verified.admit('volume.attach', creds({ headers: { ...headers, [SIGNATURE_HEADERS.issuer]: 'cinder' } })))).to.match(/no key/);
    // A valid signature is checked in open mode too: a bad one is never let through.
    expect(refusal(() => open.admit('instance.spawn', creds({ headers: { ...headers, [SIGNATURE_HEADERS.signature]: 'sha256=00' } })))).to.match(/no key|does not verify/);
  });

  it('tells whether an admitted identity may also send another kind (the rule for facts that steer it)', () => {
    const nova = verified.admit('instance.get_state', creds({ headers: signatureHeaders('nova', KEY, RK, body) }));
    expect(verified.allows('port.plug', nova)).to.equal(true);
    expect(verified.allows('port.plug', { issuer: 'cinder', source: 'signature', claimed: 'cinder' })).to.equal(false);
    expect(verified.allows('volume.attach', { issuer: 'cinder', source: 'signature', claimed: 'cinder' })).to.equal(true);
    expect(open.allows('port.plug', open.admit('instance.get_state', creds()))).to.equal(true);
    expect(open.allows('port.plug', open.admit('instance.get_state', creds({ claimed: 'cinder' })))).to.equal(false);
  });

  it('refuses a signed message delivered with another routing key: signed for one host, re-aimed at another', () => {
    const headers = signatureHeaders('nova', KEY, 'compute.h1', body);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers, routingKey: 'compute.h2' })))).to.match(/does not verify for routing key "compute.h2"/);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers, routingKey: 'compute' })))).to.match(/does not verify/);
  });

  it('refuses a signing time outside the window either way, a missing one, and one changed after signing', () => {
    const now = Date.now();
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: signatureHeaders('nova', KEY, RK, body, now - 301_000) })))).to.match(/made 30\d s ago, outside the window of 300 s/);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: signatureHeaders('nova', KEY, RK, body, now + 400_000) })))).to.match(/in the future, outside the window/);
    expect(verified.admit('instance.spawn', creds({ headers: signatureHeaders('nova', KEY, RK, body, now - 250_000) })).issuer).to.equal('nova');
    const { [SIGNATURE_HEADERS.signedAt]: _at, ...untimed } = signatureHeaders('nova', KEY, RK, body);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: untimed })))).to.match(/no signing time/);
    const headers = signatureHeaders('nova', KEY, RK, body, now - 1_000_000);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: { ...headers, [SIGNATURE_HEADERS.signedAt]: String(Math.floor(now / 1000)) } })))).to.match(/does not verify/);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: { ...headers, [SIGNATURE_HEADERS.signedAt]: '0017' } })))).to.match(/no signing time/);
    // Python's kombu sends an int header as an integer: the same decimal text is what was signed.
    const at = Math.floor(now / 1000);
    const asInt = { [SIGNATURE_HEADERS.issuer]: 'nova', [SIGNATURE_HEADERS.signedAt]: at, [SIGNATURE_HEADERS.signature]: signatureOf(KEY, { issuer: 'nova', routingKey: RK, signedAt: String(at), body }) };
    expect(verified.admit('instance.spawn', creds({ headers: asInt })).issuer).to.equal('nova');
    const narrow = new IssuerPolicy({ mode: 'verified', users: {}, keys: { nova: KEY }, signatureWindowMs: 10_000 });
    expect(refusal(() => narrow.admit('instance.spawn', creds({ headers: signatureHeaders('nova', KEY, RK, body, now - 60_000) })))).to.match(/window of 10 s/);
  });
});
