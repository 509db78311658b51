/**
 * The HMAC signature that proves who sent a message, to which host, and
 * when (docs/design.md#issuers): made by the senders (client/, the
 * CLI's send and call, `hostwall replay`), checked by the worker (identity.ts).
 *
 * Headers:
 *   x-hostwall-issuer:    nova | cinder | neutron | operator
 *   x-hostwall-signed-at: the signing time, Unix seconds in decimal ("1767225600")
 *   x-hostwall-signature: sha256=<hex>, the HMAC-SHA256, keyed with that issuer's
 *                         secret, of the UTF-8 bytes
 *                         `<issuer>\n<routing key>\n<signed-at>\n` + the raw AMQP body
 *
 * The worker takes a signature only when the routing key it was delivered
 * with is the one signed (compute.<host>: the target host), and the signing
 * time is within its window (`--signature-window`, ±300 s by default, so the
 * hosts' clocks must agree that well: NTP).
 *
 * The replay guard within the window is the intent store's dedupe, not a
 * nonce cache: the body carries the oslo `_unique_id` (or `args.intent_id`),
 * so every copy of a signed message names the same intent id, and the only
 * host that accepts it (the routing key is signed) answers a copy from its
 * record without applying it again. The store keeps ids for
 * `--store-retention` (days), far longer than the window, and survives
 * restarts, which a nonce cache in memory would not. What it does not cover:
 * reads (get_state, host.*) are not recorded, so a copy re-runs a read (no
 * effect, the answer goes to the original caller's reply queue, whose
 * oslo client drops a msg_id it no longer waits for); and a message signed
 * for the shared topic (routing key `compute`, any host) can be taken by
 * more than one host within the window: sign for `compute.<host>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADERS = {
  issuer: 'x-hostwall-issuer',
  signature: 'x-hostwall-signature',
  signedAt: 'x-hostwall-signed-at',
} as const;

/** The window a worker accepts a signing time in, either side of its clock (seconds). */
export const DEFAULT_SIGNATURE_WINDOW_S = 300;

/** What a signature covers. `signedAt` is the header's decimal text. */
export interface SignedFields {
  issuer: string;
  routingKey: string;
  signedAt: string;
  body: Buffer;
}

export function signatureOf(key: string, f: SignedFields): string {
  const mac = createHmac('sha256', key).update(`${f.issuer}\n${f.routingKey}\n${f.signedAt}\n`, 'utf8').update(f.body).digest('hex');
  return `sha256=${mac}`;
}

/** Constant-time comparison of a signature header with the one expected. */
export function signatureMatches(key: string, f: SignedFields, given: string): boolean {
  const want = Buffer.from(signatureOf(key, f));
  const got = Buffer.from(given);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The headers that sign `body` as `issuer` for a publish with `routingKey`, at `now` (ms). */
export function signatureHeaders(issuer: string, key: string, routingKey: string, body: Buffer, now = Date.now()): Record<string, string> {
  const signedAt = String(Math.floor(now / 1000));
  return {
    [SIGNATURE_HEADERS.issuer]: issuer,
    [SIGNATURE_HEADERS.signedAt]: signedAt,
    [SIGNATURE_HEADERS.signature]: signatureOf(key, { issuer, routingKey, signedAt, body }),
  };
}

/** The signing time as it was signed (decimal text), from a string or an integer header (Python's kombu sends ints); else undefined. */
export function signedAtText(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  const text = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
  return text !== undefined && /^(0|[1-9]\d{0,11})$/.test(text) ? text : undefined;
}
