/**
 * oslo.messaging RPC replies (docs/oslo-wire.md#replies): published to the caller's `_reply_q`
 * through the default exchange, mandatory, without expiration.
 *
 * A server sends one final reply {result, failure, ending: true, _msg_id,
 * _unique_id}; while a call runs it may send call-monitor heartbeats
 * {result: null, failure: null, ending: false, ...}, but only when the
 * request's `_timeout` is a number: a 14.x client that did not ask for a
 * monitor crashes on a heartbeat (AttributeError on its missing timer).
 */
import { z } from 'zod';
import type { OutboundMessage } from '../transport/transport';
import type { OsloMessage } from './envelope';
import { deserializeFailure, type RemoteError } from './failure';
import { uuid4Hex } from './ids';
import { osloOutbound } from './outbound';
import { InvariantError } from '../errors';

/** The final reply: a result, or a failure string from serializeFailure. */
export function encodeFinalReply(msgId: string, outcome: { result: unknown } | { failure: string }): OsloMessage {
  const isFailure = 'failure' in outcome;
  return {
    result: isFailure ? null : (outcome.result ?? null),
    failure: isFailure ? outcome.failure : null,
    ending: true,
    _msg_id: msgId,
    _unique_id: uuid4Hex(),
  };
}

/** A call-monitor heartbeat: tells the caller the call is still being worked on. */
export function encodeHeartbeat(msgId: string): OsloMessage {
  return { result: null, failure: null, ending: false, _msg_id: msgId, _unique_id: uuid4Hex() };
}

/**
 * oslo's dispatcher `_watchdog`: interval = int(_timeout) / 2 seconds, and no
 * heartbeats at all when `_timeout` is null or the interval would be under 1 s.
 */
export function heartbeatIntervalMs(timeoutS: number | null | undefined): number | undefined {
  if (typeof timeoutS !== 'number' || !Number.isFinite(timeoutS)) return undefined;
  const intervalS = Math.trunc(timeoutS) / 2;
  return intervalS >= 1 ? intervalS * 1000 : undefined;
}

/** A reply (final or heartbeat) addressed to the caller's reply queue. */
export function replyOutbound(replyQueue: string, message: OsloMessage): OutboundMessage {
  return osloOutbound({ exchange: '', routingKey: replyQueue, message, mandatory: true });
}

export const RpcReplyFieldsSchema = z.looseObject({
  result: z.unknown().optional(),
  failure: z.string().nullable().optional(),
  ending: z.boolean().optional(),
  _msg_id: z.string().nullable().optional(),
  _unique_id: z.string().optional(),
});

export type ReplyValue = { kind: 'result'; result: unknown } | { kind: 'failure'; error: RemoteError } | { kind: 'none' };

export interface RpcReply {
  msgId: string | undefined;
  uniqueId: string | undefined;
  /** A reply without `ending` is not final (the 14.x client keeps waiting). */
  ending: boolean;
  value: ReplyValue;
}

/** Decode a reply the way the Python client's ReplyWaiter reads it; undefined if it is not a reply at all. */
export function decodeRpcReply(message: OsloMessage): RpcReply | undefined {
  const parsed = RpcReplyFieldsSchema.safeParse(message);
  if (!parsed.success) return undefined;
  const m = parsed.data;
  let value: ReplyValue;
  if (m.failure) value = { kind: 'failure', error: deserializeFailure(m.failure) };
  else if (m.result !== undefined && m.result !== null) value = { kind: 'result', result: m.result };
  else value = { kind: 'none' };
  return { msgId: m._msg_id ?? undefined, uniqueId: m._unique_id, ending: m.ending === true, value };
}

/**
 * The replies of one call folded as the Python client folds them: the last
 * non-null value wins (legacy servers sent the result with ending=false, then
 * an empty ending=true), a null non-final reply is a heartbeat.
 */
export class CallReplies {
  private last: ReplyValue = { kind: 'none' };
  private done = false;

  /** Feed one reply for this call's msg_id. */
  accept(reply: RpcReply): 'heartbeat' | 'partial' | 'final' {
    if (reply.value.kind !== 'none') this.last = reply.value;
    if (reply.ending) {
      this.done = true;
      return 'final';
    }
    return reply.value.kind === 'none' ? 'heartbeat' : 'partial';
  }

  get finished(): boolean {
    return this.done;
  }

  /** The call's outcome once final: the result (null if none), or throws the RemoteError. */
  outcome(): unknown {
    if (!this.done) throw new InvariantError('the call has no final reply yet');
    if (this.last.kind === 'failure') throw this.last.error;
    return this.last.kind === 'result' ? this.last.result : null;
  }
}
