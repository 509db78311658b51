/**
 * `hostwall replay` and signed messages: with the issuers' keys a signed
 * message is signed anew (by its own issuer, for the routing key it is
 * re-sent with, now), so a worker takes it after the original's window;
 * without them it keeps the old signature, and says so.
 */
import { expect } from 'chai';
import { describe as describeItem, republished, type SourceMessage } from '../../src/replay/replay-message';
import { envelopeJson } from '../../src/oslo/envelope';
import { provenIdentity } from '../../src/policy/identity';
import { SIGNATURE_HEADERS, signatureHeaders } from '../../src/policy/signature';

const KEY = 'neutron-secret-0123456789';
const RK = 'compute.h1';
const HOUR_AGO = Date.now() - 3_600_000;
const body = Buffer.from(envelopeJson({ method: 'port.ready', namespace: 'hostwall', version: '1.0', args: { port_id: 'p-1' }, _unique_id: 'abc123' }), 'utf8');

function source(headers: Record<string, unknown>): SourceMessage {
  return { source: 'dead-letter', ref: 'hostwall.dead.h1', exchange: 'nova', routingKey: RK, headers, contentType: 'application/json', contentEncoding: 'utf-8', body, at: new Date(HOUR_AGO), reason: 'ISSUER_REFUSED' };
}

const verify = (out: { body: Buffer; headers?: Record<string, unknown>; routingKey: string }) =>
  provenIdentity({ body: out.body, headers: out.headers ?? {}, userId: undefined, claimed: undefined, routingKey: out.routingKey }, {}, { keys: { neutron: KEY }, windowS: 300 });

describe('replay of signed messages', () => {
  const old = signatureHeaders('neutron', KEY, RK, body, HOUR_AGO);

  it('signs a stale signed message anew with its issuer\'s key: the worker takes it', () => {
    const r = republished(describeItem(source(old)), { asNew: false, keys: { neutron: KEY } });
    expect(r.signature).to.equal('resigned');
    expect(r.out.headers?.[SIGNATURE_HEADERS.signedAt]).to.not.equal(old[SIGNATURE_HEADERS.signedAt]);
    expect(verify(r.out)?.issuer).to.equal('neutron');
    expect(() => verify(republished(describeItem(source(old)), { asNew: false }).out)).to.throw(/outside the window/);
  });

  it('signs the new body of an --as-new copy', () => {
    const r = republished(describeItem(source(old)), { asNew: true, keys: { neutron: KEY } });
    expect(r.out.body.equals(body)).to.equal(false);
    expect(verify(r.out)?.issuer).to.equal('neutron');
  });

  it('keeps the old signature without a key for its issuer, and leaves an unsigned message unsigned', () => {
    const kept = republished(describeItem(source(old)), { asNew: false, keys: { cinder: 'cinder-secret-0123456789' } });
    expect(kept.signature).to.equal('kept');
    expect(kept.out.headers?.[SIGNATURE_HEADERS.signature]).to.equal(old[SIGNATURE_HEADERS.signature]);
    const none = republished(describeItem(source({})), { asNew: false, keys: { neutron: KEY } });
    expect(none.signature).to.equal('none');
    expect(none.out.headers?.[SIGNATURE_HEADERS.signature]).to.equal(undefined);
  });
});
