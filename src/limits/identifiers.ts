/**
 * Bounds on what a message names and the worker stores or echoes (issue 15:
 * a multi-megabyte `_unique_id` became the intent id in the store and in
 * every event, and a reply too big for the broker wedged the worker).
 *
 * One rule, two treatments:
 * - identifiers that decide something are REFUSED when they break their
 *   bound, never cut (a cut id could merge two intents, a cut reply address
 *   could answer someone else): `_unique_id` (the intent id), `_msg_id` and
 *   `_reply_q` (echoed in every reply; the reply queue must also be named as
 *   oslo names them), `method`, `namespace`, `version`.
 *   Refused as NOT_OSLO_ENVELOPE before anything reads them, so a refused
 *   call is not answered (its reply address is not trusted).
 * - strings only carried along (the context's request ids, user and project
 *   ids, the issuer claim) are CUT to MAX_CARRIED_CHARS, marked with a
 *   trailing "…", wherever they are stored or published.
 *
 * The intent schemas bound every field of `args` themselves (intents/fields.ts).
 */
import { RejectedError } from '../errors';

/**
 * `_unique_id` and `_msg_id`: oslo makes both `uuid4().hex` (32 characters);
 * 64 leaves room for a dashed uuid with a prefix, and keeps a Nova batch's
 * intent ids (`<_unique_id>:<n>`) within the 128 of an intent id.
 */
export const MAX_MESSAGE_ID_CHARS = 64;
/** Letters, digits, ".", "_", ":" and "-", starting with a letter or digit (as ResourceId). */
const MESSAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** AMQP's limit on a routing key (a short string). */
export const MAX_REPLY_QUEUE_CHARS = 255;
/**
 * A reply queue as oslo.messaging's rabbit driver names it (amqpdriver.py
 * `_get_reply_q`): `reply_` + `uuid.uuid4().hex` (32 lower-case hex digits),
 * or, with `use_queue_manager = True` (oslo.messaging 14.4 and later),
 * `reply_<hostname>:<processname>:<counter>`. The driver never uses RabbitMQ's
 * direct reply-to (`amq.rabbitmq.reply-to`). A reply is published to the
 * default exchange with this name as routing key, so any other name could
 * aim the worker's answers and call-monitor heartbeats at any queue: another
 * host's `compute.<host>`, the journal stream, a dead-letter queue. Only
 * names that start with `reply_` are answered; no hostwall or compute queue
 * does. Naming another caller's reply queue is not prevented here (README,
 * Guarantees: reply queues).
 */
const REPLY_QUEUE = /^reply_(?:[0-9a-f]{32}|[A-Za-z0-9._-]+:[A-Za-z0-9._-]+:[0-9]+)$/;
/** Method and namespace: Nova's longest method name is under 60 characters. */
export const MAX_NAME_CHARS = 255;
const NAME = /^[\x21-\x7e]*$/;
/** `MAJOR.MINOR` and the like. */
export const MAX_VERSION_CHARS = 32;
/** Request ids (`req-<uuid>`, 40 characters), user and project ids... */
export const MAX_CARRIED_CHARS = 255;

/** The fields of a decoded request these bounds cover. */
export interface NamedFields {
  method: string;
  namespace: string | undefined;
  version: string | undefined;
  uniqueId: string | undefined;
  call: { msgId: string; replyQueue: string } | undefined;
}

function check(field: string, value: string | undefined, max: number, pattern: RegExp, what: string): void {
  if (value === undefined) return;
  if (value.length <= max && pattern.test(value)) return;
  const shown = value.length > 40 ? `${value.length} characters` : JSON.stringify(value);
  throw new RejectedError('NOT_OSLO_ENVELOPE', `${field} must be at most ${max} characters of ${what} (got ${shown})`, { field, length: value.length, limit: max });
}

/** Refuse a request whose identifiers break their bounds (see the file header); the error names the field. */
export function checkIdentifiers(req: NamedFields): void {
  // The reply address first: a refusal names what it refused, and must not be sent to a hostile address.
  check('_msg_id', req.call?.msgId, MAX_MESSAGE_ID_CHARS, MESSAGE_ID, 'letters, digits, ".", "_", ":" or "-"');
  check('_reply_q', req.call?.replyQueue, MAX_REPLY_QUEUE_CHARS, REPLY_QUEUE, "oslo's reply queue name, reply_<32 hex digits> (or reply_<host>:<process>:<n>)");
  check('_unique_id', req.uniqueId, MAX_MESSAGE_ID_CHARS, MESSAGE_ID, 'letters, digits, ".", "_", ":" or "-"');
  check('method', req.method, MAX_NAME_CHARS, NAME, 'printable ASCII without spaces');
  check('namespace', req.namespace, MAX_NAME_CHARS, NAME, 'printable ASCII without spaces');
  check('version', req.version, MAX_VERSION_CHARS, NAME, 'printable ASCII without spaces');
}

/** A string cut to `max` characters, the cut marked by a final "…" (within the max). */
export function cut(s: string, max = MAX_CARRIED_CHARS): string {
  if (s.length <= max) return s;
  let end = max - 1;
  // Never leave half of a surrogate pair before the mark.
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** `cut` of a string; anything else is not a string here. */
export function cutText(v: unknown, max = MAX_CARRIED_CHARS): string | undefined {
  return typeof v === 'string' ? cut(v, max) : undefined;
}
