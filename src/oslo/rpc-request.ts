/**
 * oslo.messaging RPC requests (the inner message of the envelope).
 *
 * Fields, as the 14.x client writes them (docs/oslo-wire.md#requests): `method`, `args`,
 * optional `namespace` and `version`, `_unique_id`, for calls `_msg_id`,
 * `_reply_q` and `_timeout` (call-monitor seconds or null), and the request
 * context flattened into one `_context_<key>` per item (amqp.pack_context).
 * The server side mirrors amqp.unpack_context + rpc/dispatcher.py: context is
 * rebuilt from the `_context_*` keys, a missing `args` is `{}`, a missing
 * `version` is left undefined (the dispatcher reads it as "1.0"), and a
 * message is a call when `_msg_id` is set.
 */
import { z } from 'zod';
import { RejectedError } from '../errors';
import type { OsloMessage } from './envelope';
import { uuid4Hex } from './ids';

export const CONTEXT_PREFIX = '_context_';

/** What a request may carry on the wire; unknown keys (the `_context_*` ones) pass through. */
export const RpcRequestFieldsSchema = z.looseObject({
  method: z.string().min(1, 'must be a non-empty string'),
  // oslo's dispatcher: message.get('args', {}) then **args, so it must be an object when present.
  args: z.record(z.string(), z.unknown()).optional(),
  version: z.string().optional(),
  // The Python client only writes namespace when it is not None; null means the same.
  namespace: z.string().nullable().optional(),
  _unique_id: z.string().optional(),
  // A cast may carry _msg_id: null (old clients); oslo replies only when it is truthy.
  _msg_id: z.string().nullable().optional(),
  _reply_q: z.string().nullable().optional(),
  // oslo does int(_timeout); a number or null (no call monitor).
  _timeout: z.number().nullable().optional(),
});
export type RpcRequestFields = z.infer<typeof RpcRequestFieldsSchema>;

/**
 * The request from its checked fields: what the dispatcher needs, context
 * rebuilt, call details grouped. Undefined for a call without a reply queue.
 */
function requestOf(m: RpcRequestFields) {
  let call: { msgId: string; replyQueue: string; timeoutS: number | null } | undefined;
  if (m._msg_id) {
    if (!m._reply_q) return undefined;
    call = { msgId: m._msg_id, replyQueue: m._reply_q, timeoutS: m._timeout ?? null };
  }
  const context: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(m)) {
    if (key.startsWith(CONTEXT_PREFIX)) context[key.slice(CONTEXT_PREFIX.length)] = value;
  }
  return {
    method: m.method,
    args: m.args ?? {},
    version: m.version,
    namespace: m.namespace ?? undefined,
    uniqueId: m._unique_id,
    call,
    context,
  };
}

/** A parsed request (requestOf of the checked fields). */
export const RpcRequestSchema = RpcRequestFieldsSchema.transform((m, ctx) => {
  const req = requestOf(m);
  if (req === undefined) {
    ctx.addIssue({ code: 'custom', path: ['_reply_q'], message: 'a call (_msg_id set) needs a reply queue name' });
    return z.NEVER;
  }
  return req;
});
export type RpcRequest = z.output<typeof RpcRequestSchema>;

function issuesText(error: z.ZodError): string[] {
  return error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`);
}

/** An object as JSON.parse makes them, that z.record() takes as it is (no key it would drop or refuse). */
function isJsonRecord(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype &&
    !Object.hasOwn(v, '__proto__') && !Object.hasOwn(v, 'constructor') && Object.getOwnPropertySymbols(v).length === 0
  );
}

const nullish = (v: unknown): v is null | undefined => v === null || v === undefined;

/**
 * RpcRequestFieldsSchema's checks, written out for the requests peers
 * actually send: zod costs more than decoding the body does, on every
 * message. True only where the schema accepts the message as it is; anything
 * else, valid or not, goes through the schema, so every error still comes
 * from it, worded as before. A unit test holds the two to the same answers.
 */
function hasRequestFields(m: OsloMessage): m is RpcRequestFields {
  return (
    Object.getPrototypeOf(m) === Object.prototype &&
    typeof m.method === 'string' && m.method.length > 0 &&
    (m.args === undefined || isJsonRecord(m.args)) &&
    (m.version === undefined || typeof m.version === 'string') &&
    (nullish(m.namespace) || typeof m.namespace === 'string') &&
    (m._unique_id === undefined || typeof m._unique_id === 'string') &&
    (nullish(m._msg_id) || typeof m._msg_id === 'string') &&
    (nullish(m._reply_q) || typeof m._reply_q === 'string') &&
    (nullish(m._timeout) || (typeof m._timeout === 'number' && Number.isFinite(m._timeout)))
  );
}

/** Parse a decoded inner message as an RPC request; throws RejectedError NOT_OSLO_ENVELOPE naming the bad fields. */
export function parseRpcRequest(message: OsloMessage): RpcRequest {
  const fast = hasRequestFields(message) ? requestOf(message) : undefined;
  if (fast !== undefined) return fast;
  const parsed = RpcRequestSchema.safeParse(message);
  if (!parsed.success) {
    const issues = issuesText(parsed.error);
    throw new RejectedError('NOT_OSLO_ENVELOPE', `not an oslo RPC request: ${issues.join('; ')}`, {
      issues,
      method: typeof message.method === 'string' ? message.method : null,
    });
  }
  return parsed.data;
}

/** What hostwall's own `send`/`call` (and tests) ask for; the encoder fills in the ids. */
export const RpcRequestInputSchema = z.object({
  method: z.string().min(1),
  args: z.record(z.string(), z.unknown()).default({}),
  version: z.string().regex(/^\d+\.\d+$/, 'must be MAJOR.MINOR').optional(),
  namespace: z.string().optional(),
  context: z.record(z.string(), z.unknown()).default({}),
  uniqueId: z.string().optional(),
  call: z
    .object({
      replyQueue: z.string().min(1),
      /** Call-monitor timeout (`_timeout`): the server heartbeats every half of it. */
      timeoutS: z.number().int().positive().nullable().default(null),
      msgId: z.string().optional(),
    })
    .optional(),
});
export type RpcRequestInput = z.input<typeof RpcRequestInputSchema>;

export interface EncodedRpcRequest {
  message: OsloMessage;
  uniqueId: string;
  /** Set for calls: replies carry it back in `_msg_id`. */
  msgId: string | undefined;
}

/** Build the inner message in the key order the Python client uses (order is not significant to receivers). */
export function encodeRpcRequest(input: RpcRequestInput): EncodedRpcRequest {
  const req = RpcRequestInputSchema.parse(input);
  const message: OsloMessage = { method: req.method, args: req.args };
  if (req.namespace !== undefined) message.namespace = req.namespace;
  if (req.version !== undefined) message.version = req.version;
  let msgId: string | undefined;
  if (req.call) {
    msgId = req.call.msgId ?? uuid4Hex();
    message._msg_id = msgId;
    message._reply_q = req.call.replyQueue;
    message._timeout = req.call.timeoutS;
  }
  const uniqueId = req.uniqueId ?? uuid4Hex();
  message._unique_id = uniqueId;
  for (const [key, value] of Object.entries(req.context)) message[`${CONTEXT_PREFIX}${key}`] = value;
  return { message, uniqueId, msgId };
}

/** Where a request goes (docs/oslo-wire.md#names-and-routing): topic, topic.server, or the topic's fanout exchange. */
export function rpcRoute(target: {
  exchange: string;
  topic: string;
  server?: string;
  fanout?: boolean;
}): { exchange: string; routingKey: string } {
  if (target.fanout) return { exchange: `${target.topic}_fanout`, routingKey: '' };
  return {
    exchange: target.exchange,
    routingKey: target.server ? `${target.topic}.${target.server}` : target.topic,
  };
}
