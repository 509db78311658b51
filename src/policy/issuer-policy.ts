/**
 * Admission by issuer (docs/design.md#issuers): each kind names the issuers that may send
 * it (intents/registry.ts); a message is admitted only if its issuer is one
 * of them. How the issuer is known depends on the mode:
 *
 * - `open` (the default, so an unmodified oslo.messaging client works out of
 *   the box; the worker warns loudly at start): a proof is used when there
 *   is one, else the context's claimed issuer is trusted, and a message that
 *   names no issuer is admitted for every kind. Fine on a development broker,
 *   not on a shared one: anyone who can publish to compute.<host> is Nova.
 * - `verified`: only a proof counts (identity.ts). No proof, a bad
 *   signature, or a context claim that contradicts the proof is refused.
 *
 * Refusals are RejectedError ISSUER_REFUSED: dead-lettered, intent.rejected,
 * and a call gets the error.
 */
import { RejectedError } from '../errors';
import { definitionOf, type Issuer, type IntentKind } from '../intents';
import { type Credentials, type Identity, type IssuerKeys, isIssuer, provenIdentity, SIGNATURE_HEADERS } from './identity';
import { DEFAULT_SIGNATURE_WINDOW_S } from './signature';

export type IssuerMode = 'open' | 'verified';

export interface IssuerPolicySettings {
  mode: IssuerMode;
  users: Readonly<Record<string, Issuer>>;
  keys: IssuerKeys;
  /** ms a signing time may be from the worker's clock (signature.ts); DEFAULT_SIGNATURE_WINDOW_S if unset. */
  signatureWindowMs?: number;
}

export class IssuerPolicy {
  constructor(private readonly settings: IssuerPolicySettings) {}

  get mode(): IssuerMode {
    return this.settings.mode;
  }

  /** The identity of a message for `kind`, or a RejectedError ISSUER_REFUSED. */
  admit(kind: IntentKind, c: Credentials): Identity {
    const { mode, users, keys } = this.settings;
    const proven = provenIdentity(c, users, { keys, windowS: this.settings.signatureWindowMs !== undefined ? this.settings.signatureWindowMs / 1000 : DEFAULT_SIGNATURE_WINDOW_S });
    const identity: Identity = proven ?? (mode === 'open' ? openIdentity(c.claimed) : refuseUnproven(c));
    if (proven && c.claimed !== undefined && c.claimed !== proven.issuer) {
      throw new RejectedError('ISSUER_REFUSED', `the context claims issuer "${c.claimed}" but the message is proven to come from "${proven.issuer}" (by ${proven.source})`, {
        claimed: c.claimed, proven: proven.issuer ?? null, source: proven.source,
      });
    }
    const allowed = definitionOf(kind).issuers;
    if (identity.issuer !== undefined && !allowed.includes(identity.issuer)) {
      throw new RejectedError('ISSUER_REFUSED', `issuer "${identity.issuer}" may not send ${kind} (allowed: ${allowed.join(', ')})`, {
        issuer: identity.issuer, kind, allowed: [...allowed], source: identity.source,
      });
    }
    if (identity.issuer === undefined && identity.claimed !== undefined) {
      throw new RejectedError('ISSUER_REFUSED', `unknown issuer "${identity.claimed}" (known: nova, cinder, neutron, operator)`, { claimed: identity.claimed });
    }
    return identity;
  }

  /**
   * Whether an identity admit() returned may send `kind` too (the same rule,
   * without throwing). Facts that decide what a later intent does are taken
   * only from issuers that may send that intent (host-state/learnt-bindings.ts).
   */
  allows(kind: IntentKind, identity: Identity): boolean {
    if (identity.issuer === undefined) return identity.claimed === undefined;
    return definitionOf(kind).issuers.includes(identity.issuer);
  }
}

function openIdentity(claimed: string | undefined): Identity {
  if (claimed === undefined) return { issuer: undefined, source: 'none', claimed };
  return { issuer: isIssuer(claimed) ? claimed : undefined, source: 'claim', claimed };
}

function refuseUnproven(c: Credentials): never {
  throw new RejectedError('ISSUER_REFUSED', `issuer not proven: no ${SIGNATURE_HEADERS.signature} and AMQP user_id ${JSON.stringify(c.userId ?? null)} is not mapped in issuerUsers (issuerMode is verified)`, {
    user_id: c.userId ?? null,
  });
}
