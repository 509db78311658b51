/**
 * host.intents: what the worker's intent store says about recent intents,
 * for an operator (or Nova) asking "what happened on this host". Reads the
 * committed records only (StoredIntent), newest first; reads themselves are
 * never recorded (ledger.ts), so a query does not list queries.
 */
import type { IntentArgs, RecordedIntent } from '../intents';
import type { IntentStore, StoredIntent } from '../store/intent-store';
import { parseOutcome } from './ledger';

export type IntentRecords = Pick<IntentStore, 'recent'>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function recordedIntent(row: StoredIntent): RecordedIntent {
  const outcome = row.state === 'failed' ? parseOutcome(row.outcome) : undefined;
  return {
    intent_id: row.intent_id,
    kind: row.kind,
    instance_uuid: row.instance_uuid,
    state: row.state,
    received_at: new Date(row.received_at).toISOString(),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_ms: row.started_at !== null && row.finished_at !== null ? Math.max(0, row.finished_at - row.started_at) : null,
    error: outcome?.status === 'failed' ? { code: outcome.error.code, message: outcome.error.message } : null,
  };
}

export function queryIntents(q: IntentArgs<'host.intents'>, store: IntentRecords): RecordedIntent[] {
  const since = q.since === undefined ? 0 : Date.parse(q.since);
  return store.recent({ since, instanceUuid: q.instance_uuid, state: q.state, limit: q.limit }).map(recordedIntent);
}
