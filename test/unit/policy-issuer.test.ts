import { expect } from 'chai';
import { RejectedError } from '../../src/errors';
import { SIGNATURE_HEADERS, signBody } from '../../src/policy/identity';
import { IssuerPolicy } from '../../src/policy/issuer-policy';

const body = Buffer.from('{"oslo.version": "2.0", "oslo.message": "{}"}');
const KEY = 'nova-secret-0123456789';
const creds = (o: { headers?: Record<string, unknown>; userId?: string; claimed?: string } = {}) => ({ body, headers: o.headers ?? {}, userId: o.userId, claimed: o.claimed });

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RejectedError);
    expect((err as RejectedError).code).to.equal('ISSUER_REFUSED');
    return (err as Error).message;
  }
  throw new Error('expected ISSUER_REFUSED');
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

  it('accepts an HMAC-SHA256 signature over issuer and body, and refuses a forged or stale one', () => {
    const headers = { [SIGNATURE_HEADERS.issuer]: 'nova', [SIGNATURE_HEADERS.signature]: signBody('nova', KEY, body) };
    expect(verified.admit('instance.spawn', creds({ headers }))).to.include({ issuer: 'nova', source: 'signature' });
    expect(refusal(() => verified.admit('instance.spawn', { ...creds({ headers }), body: Buffer.from(`${body.toString()} `) }))).to.match(/does not verify/);
    expect(refusal(() => verified.admit('instance.spawn', creds({ headers: { ...headers, [SIGNATURE_HEADERS.signature]: signBody('nova', 'wrong-key-0123456789', body) } })))).to.match(/does not verify/);
    expect(refusal(() => verified.admit('volume.attach', creds({ headers: { ...headers, [SIGNATURE_HEADERS.issuer]: 'cinder' } })))).to.match(/no key/);
    // A valid signature is checked in open mode too: a bad one is never let through.
    expect(refusal(() => open.admit('instance.spawn', creds({ headers: { ...headers, [SIGNATURE_HEADERS.signature]: 'sha256=00' } })))).to.match(/no key|does not verify/);
  });
});
