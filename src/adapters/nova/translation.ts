/**
 * The shapes shared by every method's translation: what comes in, what goes
 * out, and the helpers that keep every emitted intent validated exactly as a
 * native one would be (same schemas, hence the same lock keys).
 */
import { RejectedError } from '../../errors';
import { currentVersion, type Intent, type IntentArgs, type IntentKind, type IntentOf, validateIntent } from '../../intents';
import type { NovaLookups } from './facts';

/** A parsed oslo RPC request addressed to Nova's compute API (no namespace). */
export interface NovaRequest {
  method: string;
  version?: string | null;
  args: Record<string, unknown>;
  context?: Record<string, unknown>;
  /**
   * The oslo `_unique_id`. Needed only when one message becomes several
   * intents (an external_instance_event batch): each then gets its own
   * intent_id `<_unique_id>:<n>`, so deduplication does not fold them together.
   */
  uniqueId?: string;
}

export interface NovaAdapted {
  /**
   * Validated intents, to run in order. Empty means "accepted, nothing for the
   * host to do" (an event Nova itself would only log, or answer from its cache).
   */
  intents: Intent[];
  /**
   * For a call: the value Nova's caller expects in the reply's `result`, made
   * from the intents' results (same order). Absent: the Nova method returns
   * None (a cast, or stop_instance sent as a call) and the reply is null.
   */
  reply?: (results: unknown[]) => unknown;
  /** Nova inputs with an effect hostwall did not carry out (names only, never values), for the log. */
  ignored: string[];
}

export interface Translation {
  method: string;
  facts: NovaLookups;
  uniqueId: string | undefined;
}

/**
 * Validate intent args exactly as a native intent of the kind's newest
 * version is validated (the adapter may use every field that version has).
 */
export function intent<K extends IntentKind>(kind: K, args: IntentArgs<K> | Record<string, unknown>): IntentOf<K> {
  // validateIntent parses with `kind`'s own schema, so the union member is that kind's.
  return validateIntent(kind, currentVersion(kind), args) as IntentOf<K>;
}

/** Refuse a message that hostwall understands but cannot carry out as asked. */
export function refuse(t: Translation, reason: string): never {
  throw new RejectedError('INVALID_INTENT', `Nova ${t.method}: ${reason}`, { method: t.method });
}

/**
 * The intent_id of the n-th of `total` intents made from one message: its own
 * id only when there are several, so deduplication keeps them apart; a single
 * intent keeps the message's `_unique_id` as the worker assigns it.
 */
export function nthIntentId(t: Translation, n: number, total: number): { intent_id?: string } {
  return total > 1 && t.uniqueId !== undefined ? { intent_id: `${t.uniqueId}:${n}` } : {};
}

export function adapted(intents: Intent[], ignored: string[] = [], reply?: (results: unknown[]) => unknown): NovaAdapted {
  return reply ? { intents, ignored, reply } : { intents, ignored };
}
