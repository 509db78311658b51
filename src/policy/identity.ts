/**
 * Who sent a message, and how we know (docs/design.md#issuers).
 *
 * Proofs, strongest first:
 * - signature: an HMAC with the issuer's key over the issuer, the routing key
 *   the message was delivered with (its target host), the signing time and the
 *   body (signature.ts has the scheme and what it guards against). Refused
 *   when it does not verify, or its time is outside the window.
 * - user_id: the AMQP `user_id` property, which RabbitMQ refuses to route
 *   unless it equals the publishing connection's user (so it cannot be
 *   forged by a client), mapped to an issuer by `issuerUsers`.
 * - claim: the oslo context's `issuer` (`_context_issuer`): anyone can write
 *   it; trusted only in `open` mode.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, RejectedError } from '../errors';
import { ISSUERS, type Issuer } from '../intents';
import { SIGNATURE_HEADERS, signatureMatches, signedAtText } from './signature';

export { SIGNATURE_HEADERS } from './signature';

const IssuerSchema = z.enum(ISSUERS as [Issuer, ...Issuer[]]);
export const IssuerKeysSchema = z.partialRecord(IssuerSchema, z.string().min(16, 'an HMAC key needs at least 16 characters'));
export type IssuerKeys = z.infer<typeof IssuerKeysSchema>;

export type IdentitySource = 'signature' | 'user_id' | 'claim' | 'none';

export interface Identity {
  issuer: Issuer | undefined;
  source: IdentitySource;
  /** What the context claims, when it claims something (kept to detect forgeries). */
  claimed: string | undefined;
}

/** What a message offers as proof, taken from the delivery and the decoded context. */
export interface Credentials {
  body: Buffer;
  headers: Readonly<Record<string, unknown>>;
  userId: string | undefined;
  claimed: string | undefined;
  /** The routing key the message was delivered with: a signature must cover it. */
  routingKey: string;
}

/** How signatures are checked: the keys, and the window a signing time must be in (either side of `now`). */
export interface SignatureCheck {
  keys: IssuerKeys;
  windowS: number;
  /** Milliseconds since the epoch; the clock of tests. */
  now?: number;
}

export function isIssuer(s: string | undefined): s is Issuer {
  return s !== undefined && (ISSUERS as readonly string[]).includes(s);
}

const headerText = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);

/**
 * The verified identity of a message, or undefined when it offers no proof.
 * A signature that is present but wrong or out of its window is refused
 * outright (ISSUER_REFUSED): a forgery, a copy re-aimed at another host or
 * re-sent late, or a key or clock mismatch; all need an operator.
 */
export function provenIdentity(c: Credentials, users: Readonly<Record<string, Issuer>>, sig: SignatureCheck): Identity | undefined {
  const signed = headerText(c.headers[SIGNATURE_HEADERS.issuer]);
  const signature = headerText(c.headers[SIGNATURE_HEADERS.signature]);
  if (signed !== undefined || signature !== undefined) {
    const key = isIssuer(signed) ? sig.keys[signed] : undefined;
    if (!isIssuer(signed) || key === undefined || signature === undefined) {
      throw new RejectedError('ISSUER_REFUSED', `signed issuer ${JSON.stringify(signed ?? null)} has no key here, or the signature is missing`, { issuer: signed ?? null });
    }
    const signedAt = signedAtText(c.headers[SIGNATURE_HEADERS.signedAt]);
    if (signedAt === undefined) {
      throw new RejectedError('ISSUER_REFUSED', `signature of issuer "${signed}" has no signing time (${SIGNATURE_HEADERS.signedAt}, Unix seconds): a signature covers the issuer, the routing key, the time and the body`, { issuer: signed });
    }
    if (!signatureMatches(key, { issuer: signed, routingKey: c.routingKey, signedAt, body: c.body }, signature)) {
      throw new RejectedError('ISSUER_REFUSED', `signature of issuer "${signed}" does not verify for routing key "${c.routingKey}" (${SIGNATURE_HEADERS.signature} covers the issuer, the routing key, ${SIGNATURE_HEADERS.signedAt} and the body)`, { issuer: signed, routing_key: c.routingKey });
    }
    const ageS = Math.round((sig.now ?? Date.now()) / 1000 - Number(signedAt));
    if (Math.abs(ageS) > sig.windowS) {
      const when = ageS > 0 ? `${ageS} s ago` : `${-ageS} s in the future`;
      throw new RejectedError('ISSUER_REFUSED', `signature of issuer "${signed}" was made ${when}, outside the window of ${sig.windowS} s (a late copy is refused; re-send it signed anew, e.g. hostwall replay --issuer-keys-file)`, { issuer: signed, age_s: ageS, window_s: sig.windowS });
    }
    return { issuer: signed, source: 'signature', claimed: c.claimed };
  }
  if (c.userId !== undefined && Object.hasOwn(users, c.userId)) {
    return { issuer: users[c.userId], source: 'user_id', claimed: c.claimed };
  }
  return undefined;
}

/** Read the HMAC keys file named by `issuerKeysFile` ('' = none). */
export function loadIssuerKeys(path: string): IssuerKeys {
  if (path === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`issuerKeysFile ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = IssuerKeysSchema.safeParse(parsed);
  if (!r.success) throw new ConfigError(`issuerKeysFile ${path}: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}
