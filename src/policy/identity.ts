/**
 * Who sent a message, and how we know (DESIGN §3 "Policy").
 *
 * Proofs, strongest first:
 * - signature: headers `x-hostwall-issuer: <issuer>` and
 *   `x-hostwall-signature: sha256=<hex>`, the HMAC-SHA256, keyed with that
 *   issuer's secret, of the UTF-8 bytes `<issuer>` + "\n" + the raw AMQP body.
 *   The body carries the oslo `_unique_id`, so a captured message cannot be
 *   re-aimed at another intent; re-sending it whole is a duplicate, which the
 *   intent store answers without applying it again.
 * - user_id: the AMQP `user_id` property, which RabbitMQ refuses to route
 *   unless it equals the publishing connection's user (so it cannot be
 *   forged by a client), mapped to an issuer by `issuerUsers`.
 * - claim: the oslo context's `issuer` (`_context_issuer`): anyone can write
 *   it; trusted only in `open` mode.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, RejectedError } from '../errors';
import { ISSUERS, type Issuer } from '../intents';

export const SIGNATURE_HEADERS = {
  issuer: 'x-hostwall-issuer',
  signature: 'x-hostwall-signature',
} as const;

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
}

export function signBody(issuer: Issuer, key: string, body: Buffer): string {
  const mac = createHmac('sha256', key).update(`${issuer}\n`, 'utf8').update(body).digest('hex');
  return `sha256=${mac}`;
}

export function isIssuer(s: string | undefined): s is Issuer {
  return s !== undefined && (ISSUERS as readonly string[]).includes(s);
}

const headerText = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);

/**
 * The verified identity of a message, or undefined when it offers no proof.
 * A signature that is present but wrong is refused outright (ISSUER_REFUSED):
 * it is either a forgery or a key mismatch, and both need an operator.
 */
export function provenIdentity(c: Credentials, users: Readonly<Record<string, Issuer>>, keys: IssuerKeys): Identity | undefined {
  const signed = headerText(c.headers[SIGNATURE_HEADERS.issuer]);
  const signature = headerText(c.headers[SIGNATURE_HEADERS.signature]);
  if (signed !== undefined || signature !== undefined) {
    const key = isIssuer(signed) ? keys[signed] : undefined;
    if (!isIssuer(signed) || key === undefined || signature === undefined) {
      throw new RejectedError('ISSUER_REFUSED', `signed issuer ${JSON.stringify(signed ?? null)} has no key here, or the signature is missing`, { issuer: signed ?? null });
    }
    const want = Buffer.from(signBody(signed, key, c.body));
    const got = Buffer.from(signature);
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      throw new RejectedError('ISSUER_REFUSED', `signature of issuer "${signed}" does not verify (${SIGNATURE_HEADERS.signature})`, { issuer: signed });
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
