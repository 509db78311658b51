/**
 * host.intents: what the worker's intent store says about recent intents,
 * for an operator (or Nova) asking "what happened on this host". Reads the
 * committed records only (StoredIntent), newest first; reads themselves are
 * never recorded (ledger.ts), so a query does not list queries.
 *
 * A reply is bounded whatever the store holds: each row's texts are cut
 * (ids and kinds to 128 characters, error messages to 4096: a store written
 * before ids were bounded may hold multi-megabyte ones), and the rows stop
 * before their JSON passes `max_bytes` (default 1 MiB). With `paged` the
 * reply says whether there is more and where the next page starts.
 */
import { HOST_INTENTS_MAX_BYTES, type IntentArgs, type RecordedIntent, type RecordedIntentsPage } from '../intents';
import { cut } from '../limits/identifiers';
import type { IntentStore, RecentIntent, StoredIntent } from '../store/intent-store';
import { parseOutcome } from './ledger';

export type IntentRecords = Pick<IntentStore, 'recent'>;

const MAX_ID = 128;
const MAX_ERROR = 4096;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function recordedIntent(row: StoredIntent): RecordedIntent {
  const outcome = row.state === 'failed' ? parseOutcome(row.outcome) : undefined;
  return {
    // One character more than the bound of a new id: a cut one shows its mark.
    intent_id: cut(row.intent_id, MAX_ID + 1),
    kind: cut(row.kind, MAX_ID),
    instance_uuid: row.instance_uuid === null ? null : cut(row.instance_uuid, MAX_ID),
    state: row.state,
    received_at: new Date(row.received_at).toISOString(),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    duration_ms: row.started_at !== null && row.finished_at !== null ? Math.max(0, row.finished_at - row.started_at) : null,
    error: outcome?.status === 'failed' ? { code: cut(outcome.error.code, MAX_ID), message: cut(outcome.error.message, MAX_ERROR) } : null,
  };
}

const cursorOf = (row: RecentIntent): string => `${row.received_at}.${row.seq}`;

function parseCursor(c: string | undefined): { receivedAt: number; seq: number } | undefined {
  if (c === undefined) return undefined;
  const [at, seq] = c.split('.');
  return { receivedAt: Number(at), seq: Number(seq) };
}

/** The rows a query asks for, within its byte cap, and whether more remain. */
export function queryIntentsPage(q: IntentArgs<'host.intents'>, store: IntentRecords): RecordedIntentsPage {
  const since = q.since === undefined ? 0 : Date.parse(q.since);
  const maxBytes = q.max_bytes ?? HOST_INTENTS_MAX_BYTES.default;
  // One row more than asked, to know whether there is more.
  const rows = store.recent({ since, instanceUuid: q.instance_uuid, state: q.state, limit: q.limit + 1, before: parseCursor(q.before) });
  const intents: RecordedIntent[] = [];
  let bytes = 2;
  let last: RecentIntent | undefined;
  for (const row of rows.slice(0, q.limit)) {
    const r = recordedIntent(row);
    const size = Buffer.byteLength(JSON.stringify(r)) + 1;
    if (bytes + size > maxBytes) break;
    intents.push(r);
    bytes += size;
    last = row;
  }
  const more = rows.length > intents.length;
  return { intents, more, next: more && last ? cursorOf(last) : null };
}

/** The reply of host.intents: the bare array (1.0, or 1.1 without `paged`), or the page. */
export function queryIntents(q: IntentArgs<'host.intents'>, store: IntentRecords): RecordedIntent[] | RecordedIntentsPage {
  const page = queryIntentsPage(q, store);
  return q.paged ? page : page.intents;
}
