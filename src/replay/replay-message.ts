/**
 * One message to re-send: where it came from, what it is, and the message
 * to publish. The original's body and headers are kept as they were and
 * replay headers are added; `--as-new` gives it a fresh intent id instead, so
 * the worker applies it again.
 *
 * A signed message (policy/signature.ts) verifies only within the worker's
 * window of its signing time, and only with the body it was signed with. So
 * with the issuers' keys (`--issuer-keys-file`, the file the workers read)
 * each signed message is signed anew, by its own issuer, for the routing key
 * it is re-sent with, now; without them it keeps its old signature, which a
 * worker refuses once the window has passed (or once --as-new changed the
 * body): replaying signed messages needs the operator to hold the keys.
 */
import { randomUUID } from 'node:crypto';
import { decodeOsloBody, encodeOsloBody, type OsloMessage } from '../oslo/envelope';
import { type IssuerKeys, isIssuer } from '../policy/identity';
import { SIGNATURE_HEADERS, signatureHeaders } from '../policy/signature';
import { replayHeaders } from '../store/replay-marks';
import type { OutboundMessage } from '../transport/transport';
import { DEAD_LETTER_HEADERS } from '../oslo/wire/oslo-wire';
import type { Candidate } from './selection';

export interface SourceMessage {
  source: 'journal' | 'dead-letter';
  /** Journal offset or dead-letter position, for `x-hostwall-replay-of`. */
  ref: string;
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  body: Buffer;
  at: Date | undefined;
  /** Dead letters: why it was refused. */
  reason?: string | undefined;
}

export interface ReplayItem extends Candidate {
  msg: SourceMessage;
  intentId: string | undefined;
  /** Why the message could not be read as an oslo request, if it could not. */
  undecodable: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** `compute.<host>` → host (hosts may contain dots: everything after the topic). */
export function hostOfRoutingKey(rk: string, topic = 'compute'): string | undefined {
  return rk.startsWith(`${topic}.`) ? rk.slice(topic.length + 1) : undefined;
}

export function describe(msg: SourceMessage, topic = 'compute'): ReplayItem {
  const base = { msg, host: hostOfRoutingKey(msg.routingKey, topic), at: msg.at };
  let inner: OsloMessage;
  try {
    inner = decodeOsloBody(msg.body, msg.contentType, msg.contentEncoding);
  } catch (err) {
    return { ...base, kind: undefined, instanceUuid: undefined, intentId: undefined, undecodable: (err as Error).message };
  }
  const args = record(inner.args);
  // An intent names its instance; a Nova RPC message carries an Instance object primitive.
  const instance = str(args.instance_uuid) ?? str(record(record(args.instance)['nova_object.data']).uuid);
  return { ...base, kind: str(inner.method), instanceUuid: instance, intentId: str(args.intent_id) ?? str(inner._unique_id), undecodable: undefined };
}

/** What became of a replayed message's signature: none, signed anew, or the original's kept (no key for its issuer). */
export type ReplaySignature = 'none' | 'resigned' | 'kept';

function signerOf(headers: Record<string, unknown>): string | undefined {
  const v = headers[SIGNATURE_HEADERS.issuer];
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

/** The message `hostwall replay` publishes for an item. */
export function republished(item: ReplayItem, opts: { asNew: boolean; now?: Date; keys?: IssuerKeys | undefined; runId?: string | undefined }): { out: OutboundMessage; intentId: string | undefined; signature: ReplaySignature } {
  const { msg } = item;
  const headers: Record<string, unknown> = { ...msg.headers, ...replayHeaders(msg.source, msg.ref, opts.now, opts.runId) };
  // Stream and dead-letter bookkeeping headers describe the copy, not the intent.
  delete headers['x-stream-offset'];
  for (const h of Object.values(DEAD_LETTER_HEADERS)) delete headers[h];
  let body = msg.body;
  let intentId = item.intentId;
  if (opts.asNew && !item.undecodable) {
    const inner = decodeOsloBody(msg.body, msg.contentType, msg.contentEncoding);
    const fresh = randomUUID().replace(/-/g, '');
    inner._unique_id = fresh;
    const args = inner.args;
    if (typeof args === 'object' && args !== null && 'intent_id' in args) (args as Record<string, unknown>).intent_id = fresh;
    intentId = fresh;
    body = encodeOsloBody(inner);
    headers['x-hostwall-replay-as-new'] = 'true';
  }
  const issuer = signerOf(headers);
  const key = isIssuer(issuer) && opts.keys ? opts.keys[issuer] : undefined;
  let signature: ReplaySignature = issuer === undefined ? 'none' : 'kept';
  if (issuer !== undefined && key !== undefined) {
    Object.assign(headers, signatureHeaders(issuer, key, msg.routingKey, body, (opts.now ?? new Date()).getTime()));
    signature = 'resigned';
  }
  return {
    signature,
    out: {
      exchange: msg.exchange,
      routingKey: msg.routingKey,
      body,
      contentType: msg.contentType ?? 'application/json',
      ...(msg.contentEncoding ? { contentEncoding: msg.contentEncoding } : {}),
      headers,
      mandatory: true,
    },
    intentId,
  };
}
