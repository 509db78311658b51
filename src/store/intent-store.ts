/**
 * The worker's local record of intents (docs/design.md#guarantees): one SQLite file per host
 * (better-sqlite3, in-process, synchronous reads of a few microseconds).
 *
 * Per intent (its id, kind and issuer together: IntentKey): instance,
 * redacted args (what reconciliation needs, never connection_info secrets),
 * the worker run that started it, received / started / finished / published
 * times, its state and its final outcome (as JSON: enough to publish it again
 * and to answer a call).
 *
 * States: started → succeeded | failed; started (by a run that died) →
 * succeeded | failed | retry, decided by reconciliation; retry → started.
 *
 * Durability: journal_mode=WAL, synchronous=NORMAL. A committed write
 * survives the worker being killed (it is in the OS's page cache and the WAL
 * file); a power loss may roll back the last few commits (fsync happens at
 * checkpoints), after which a redelivery could be applied again. Writes on
 * the hot path are group-committed (write-batch.ts); the mark that an
 * outcome was published is committed with the next batch and not waited for
 * (dispatch/ledger.ts OutcomeLedger.published says why that is safe).
 *
 * One worker per store: the file is opened with an exclusive lock, so a
 * second worker for the same host and state path fails at start.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { WriteBatch, type WriteBatchOptions } from './write-batch';

export const IntentState = z.enum(['started', 'succeeded', 'failed', 'retry']);
export type IntentState = z.infer<typeof IntentState>;

const Row = z.object({
  intent_id: z.string(),
  kind: z.string(),
  /** '' when the message named no issuer (issuerMode open). */
  issuer: z.string(),
  instance_uuid: z.string().nullable(),
  args: z.string().nullable(),
  request: z.string().nullable(),
  run_id: z.string(),
  received_at: z.number(),
  started_at: z.number().nullable(),
  finished_at: z.number().nullable(),
  state: IntentState,
  outcome: z.string().nullable(),
  published_at: z.number().nullable(),
});
export type StoredIntent = z.infer<typeof Row>;

/** A row as `recent` lists it: with its place in the list (received_at, then seq, both descending). */
export const RecentRow = Row.extend({ seq: z.number() });
export type RecentIntent = z.infer<typeof RecentRow>;

export interface RecentQuery {
  since: number;
  instanceUuid?: string | undefined;
  state?: IntentState | undefined;
  limit: number;
  /** Only rows after this one in the list (older, or as old and earlier inserted): a page's cursor. */
  before?: { receivedAt: number; seq: number } | undefined;
}

/**
 * What one record is about: an intent id alone is not enough (issue 15: a
 * `get_state` or a Neutron `port.ready` sent with a Nova action's id was
 * answered as a duplicate of it, or suppressed it). The id, the kind and the
 * issuer together name an intent; no message of another kind or issuer can
 * stand for it. `issuer` is '' when the message named none (issuerMode open).
 */
export interface IntentKey {
  intentId: string;
  kind: string;
  issuer: string;
}

export function keyOf(row: Pick<StoredIntent, 'intent_id' | 'kind' | 'issuer'>): IntentKey {
  return { intentId: row.intent_id, kind: row.kind, issuer: row.issuer };
}

export interface BeginRecord extends IntentKey {
  instanceUuid: string | undefined;
  /** Redacted args as JSON. */
  args: string;
  /** The request facts (ids from the oslo context) as JSON, for events published on its behalf later. */
  request: string;
  receivedAt: number;
}

export interface IntentStoreOptions {
  /** File path, or ':memory:' for tests that need no durability. */
  path: string;
  /** This worker run; a 'started' row of another run was interrupted. */
  runId: string;
  retentionMs: number;
  /** Group commit (write-batch.ts); DEFAULT_WRITE_BATCH, which suits the worker, if unset. */
  batch?: WriteBatchOptions;
}

/**
 * Version 3 (PRAGMA user_version): a record per intent id, kind and issuer (IntentKey);
 * version 2 kept one per intent id. Version 2 made it an ordinary rowid table: version 1
 * (user_version 0, the first release) was WITHOUT ROWID, which SQLite recommends only for
 * rows well under ~1 KB: its rows live in the primary key's b-tree, and anything past ~1 KB
 * of a row spills into overflow pages, so every lookup and every update walked (and rewrote)
 * chains of pages. Here the key is a small separate index and a row of a few KB fits its
 * page. Columns that are read back (state, published_at, outcome) come before the ones
 * nothing reads on the hot path (request, args), so reading an outcome never walks past them.
 */
export const SCHEMA_VERSION = 3;

const INTENTS_V3 = (name: string) => `
CREATE TABLE ${name} (
  intent_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  issuer TEXT NOT NULL,
  instance_uuid TEXT,
  run_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  published_at INTEGER,
  state TEXT NOT NULL,
  outcome TEXT,
  request TEXT,
  args TEXT,
  PRIMARY KEY (intent_id, kind, issuer)
)`;

const INDEXES_AND_DELIVERIES = `
CREATE INDEX IF NOT EXISTS intents_open ON intents(state) WHERE state IN ('started', 'retry') OR published_at IS NULL;
CREATE INDEX IF NOT EXISTS intents_received ON intents(received_at);
CREATE TABLE IF NOT EXISTS deliveries (
  fingerprint TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  last_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * `recent`'s query, shared with the offline reader (intent-store-reader.ts). rowid breaks ties
 * of received_at, so a page's cursor (received_at, rowid) is exact.
 */
export const RECENT_SQL = `SELECT rowid AS seq, * FROM intents WHERE received_at >= @since
  AND (@instance IS NULL OR instance_uuid = @instance) AND (@state IS NULL OR state = @state)
  AND (@beforeAt IS NULL OR received_at < @beforeAt OR (received_at = @beforeAt AND rowid < @beforeSeq))
  ORDER BY received_at DESC, rowid DESC LIMIT @limit`;

/** `recent`'s parameters from a query. */
export function recentParams(q: RecentQuery): Record<string, number | string | null> {
  return { since: q.since, instance: q.instanceUuid ?? null, state: q.state ?? null, limit: q.limit, beforeAt: q.before?.receivedAt ?? null, beforeSeq: q.before?.seq ?? null };
}

const COLUMNS = 'intent_id, kind, instance_uuid, run_id, received_at, started_at, finished_at, published_at, state, outcome, request, args';

/**
 * The issuer of a record of version 1 or 2: the one its request facts name (the dispatcher
 * stores the admitted issuer there), '' when none. So a redelivery after the upgrade finds
 * the record its message made before it.
 */
const OLD_ISSUER = "COALESCE(CASE WHEN json_valid(request) THEN CAST(json_extract(request, '$.issuer') AS TEXT) END, '')";

/**
 * Bring the file to SCHEMA_VERSION, in one transaction: a crash part way leaves the old
 * schema as it was, and the next start migrates again. Every row of version 1 or 2 is copied
 * (version 1's outcomes hold more of the instance view than later versions write; all read the
 * same), with its issuer taken from its request facts (OLD_ISSUER).
 */
function migrate(db: Database.Database, path: string): void {
  const version: unknown = db.pragma('user_version', { simple: true });
  if (version === SCHEMA_VERSION) return;
  if (typeof version !== 'number' || version > SCHEMA_VERSION) {
    throw new ConfigError(`intent store ${path} has schema version ${String(version)}, newer than this hostwall's ${SCHEMA_VERSION}: it was written by a later release`);
  }
  db.transaction(() => {
    const old = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'intents'").get();
    if (old === undefined) {
      db.exec(INTENTS_V3('intents'));
    } else {
      db.exec(INTENTS_V3('intents_v3'));
      db.exec(`INSERT INTO intents_v3 (${COLUMNS}, issuer) SELECT ${COLUMNS}, ${OLD_ISSUER} FROM intents ORDER BY received_at`);
      db.exec('DROP TABLE intents');
      db.exec('ALTER TABLE intents_v3 RENAME TO intents');
    }
    db.exec(INDEXES_AND_DELIVERIES);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/** What the ledger reads for every intent it has not seen in this run. */
const PriorRow = Row.pick({ state: true, outcome: true, published_at: true });
export type PriorRecord = z.infer<typeof PriorRow>;

const CountRow = z.object({ count: z.number() });

/** One record, by its IntentKey's named parameters. */
const BY_KEY = 'intent_id = @intentId AND kind = @kind AND issuer = @issuer';
const keyParams = (k: IntentKey) => ({ intentId: k.intentId, kind: k.kind, issuer: k.issuer });

export class IntentStore {
  private readonly db: Database.Database;
  private readonly batch: WriteBatch;
  private readonly stmt;

  private constructor(private readonly opts: IntentStoreOptions) {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    // A short busy timeout: the only other holder of the lock is another worker, and waiting will not help.
    this.db = new Database(opts.path, { timeout: 200 });
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      // Taken at the first write below and held until close: one worker per store.
      this.db.pragma('locking_mode = EXCLUSIVE');
      migrate(this.db, opts.path);
    } catch (err) {
      this.db.close();
      if (err instanceof ConfigError) throw err;
      const busy = err instanceof Error && /locked|busy/i.test(err.message);
      throw new ConfigError(busy ? `intent store ${opts.path} is held by another worker (one worker per host and state path)` : `intent store ${opts.path}: ${String(err)}`);
    }
    const db = this.db;
    this.stmt = {
      get: db.prepare(`SELECT * FROM intents WHERE ${BY_KEY}`),
      withId: db.prepare('SELECT * FROM intents WHERE intent_id = ? ORDER BY received_at DESC, rowid DESC'),
      prior: db.prepare(`SELECT state, outcome, published_at FROM intents WHERE ${BY_KEY}`),
      begin: db.prepare(`INSERT INTO intents (intent_id, kind, issuer, instance_uuid, args, request, run_id, received_at, started_at, state)
        VALUES (@intentId, @kind, @issuer, @instanceUuid, @args, @request, @runId, @receivedAt, @startedAt, 'started')
        ON CONFLICT(intent_id, kind, issuer) DO UPDATE SET run_id = excluded.run_id, started_at = excluded.started_at, state = 'started',
          outcome = NULL, finished_at = NULL, published_at = NULL`),
      finish: db.prepare(`UPDATE intents SET state = @state, outcome = @outcome, finished_at = @at, published_at = NULL WHERE ${BY_KEY}`),
      published: db.prepare(`UPDATE intents SET published_at = @at WHERE ${BY_KEY}`),
      retry: db.prepare(`UPDATE intents SET state = 'retry' WHERE ${BY_KEY}`),
      // The IN term is redundant but lets SQLite see that intents_open covers the query (else it scans every row at start).
      interrupted: db.prepare("SELECT * FROM intents WHERE state IN ('started', 'retry') AND state = 'started' AND run_id != ? ORDER BY received_at"),
      unpublished: db.prepare("SELECT * FROM intents WHERE state IN ('succeeded', 'failed') AND published_at IS NULL AND run_id != ? ORDER BY received_at"),
      count: db.prepare(`INSERT INTO deliveries (fingerprint, count, last_at) VALUES (?, 1, ?)
        ON CONFLICT(fingerprint) DO UPDATE SET count = count + 1, last_at = excluded.last_at RETURNING count`),
      forget: db.prepare('DELETE FROM deliveries WHERE fingerprint = ?'),
      recent: db.prepare(RECENT_SQL),
      prune: db.prepare("DELETE FROM intents WHERE received_at < ? AND state IN ('succeeded', 'failed', 'retry')"),
      pruneDeliveries: db.prepare('DELETE FROM deliveries WHERE last_at < ?'),
    };
    const tx = db.transaction((ops: readonly (() => void)[]) => {
      for (const op of ops) op();
    });
    this.batch = new WriteBatch((ops) => tx(ops), opts.batch);
  }

  static open(opts: IntentStoreOptions): IntentStore {
    return new IntentStore(opts);
  }

  get runId(): string {
    return this.opts.runId;
  }

  get(key: IntentKey): StoredIntent | undefined {
    const row: unknown = this.stmt.get.get(keyParams(key));
    return row === undefined ? undefined : Row.parse(row);
  }

  /** Every record of an intent id (of any kind or issuer), latest first: for operators and tests. */
  withId(intentId: string): StoredIntent[] {
    return this.stmt.withId.all(intentId).map((r) => Row.parse(r));
  }

  /** The state, outcome and publication of an intent: only the columns a duplicate is answered from. */
  prior(key: IntentKey): PriorRecord | undefined {
    const row: unknown = this.stmt.prior.get(keyParams(key));
    return row === undefined ? undefined : PriorRow.parse(row);
  }

  /** Record that the intent is about to change the host; resolves once committed. */
  begin(r: BeginRecord, now = Date.now()): Promise<void> {
    return this.batch.write(() => {
      this.stmt.begin.run({ ...keyParams(r), args: r.args, request: r.request, receivedAt: r.receivedAt, instanceUuid: r.instanceUuid ?? null, runId: this.opts.runId, startedAt: now });
    });
  }

  /** Record the final outcome (JSON); resolves once committed. */
  finish(key: IntentKey, state: 'succeeded' | 'failed', outcome: string, now = Date.now()): Promise<void> {
    return this.batch.write(() => {
      this.stmt.finish.run({ ...keyParams(key), state, outcome, at: now });
    });
  }

  /** Record that the outcome's events were confirmed by the broker; resolves once committed. */
  markPublished(key: IntentKey, now = Date.now()): Promise<void> {
    return this.batch.write(() => {
      this.stmt.published.run({ ...keyParams(key), at: now });
    });
  }

  /**
   * The same, for a caller that does not wait: committed with the next group commit (or
   * within the batch's lazyMs), at no commit of its own.
   */
  markPublishedLater(key: IntentKey, now = Date.now()): Promise<void> {
    return this.batch.later(() => {
      this.stmt.published.run({ ...keyParams(key), at: now });
    });
  }

  /** Reconciliation: run it again when its message comes back. */
  markRetry(key: IntentKey): void {
    this.stmt.retry.run(keyParams(key));
  }

  /** Intents another (dead) run started and never finished, oldest first. */
  interrupted(): StoredIntent[] {
    return this.stmt.interrupted.all(this.opts.runId).map((r) => Row.parse(r));
  }

  /** Outcomes another run recorded but never saw confirmed, oldest first. */
  unpublished(): StoredIntent[] {
    return this.stmt.unpublished.all(this.opts.runId).map((r) => Row.parse(r));
  }

  /**
   * Count one more delivery of a message (by fingerprint) and return the
   * count. Committed at once, not batched: it must survive the crash it is
   * there to count.
   */
  countDelivery(fingerprint: string, now = Date.now()): number {
    const row: unknown = this.stmt.count.get(fingerprint, now);
    return CountRow.parse(row).count;
  }

  forgetDelivery(fingerprint: string): Promise<void> {
    return this.batch.write(() => {
      this.stmt.forget.run(fingerprint);
    });
  }

  /**
   * What an operator asks (`hostwall inspect`): the latest intents first, since
   * a time, optionally for one instance or in one state. Reads only the
   * committed records (a batch still in flight shows on the next call).
   */
  recent(q: RecentQuery): RecentIntent[] {
    return this.stmt.recent.all(recentParams(q)).map((r) => RecentRow.parse(r));
  }

  /** Delete finished records older than the retention; returns how many. */
  prune(now = Date.now()): number {
    const before = now - this.opts.retentionMs;
    this.stmt.pruneDeliveries.run(before);
    return this.stmt.prune.run(before).changes;
  }

  /**
   * Bytes the store holds on disk: its pages and its write-ahead log (for
   * /metrics; two pragmas and a stat, no scan). 0 once closed.
   */
  sizeBytes(): number {
    if (!this.db.open) return 0;
    const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
    const pages = n(this.db.pragma('page_count', { simple: true })) * n(this.db.pragma('page_size', { simple: true }));
    if (this.opts.path === ':memory:') return pages;
    try {
      return pages + statSync(`${this.opts.path}-wal`).size;
    } catch {
      return pages;
    }
  }

  close(): void {
    if (!this.db.open) return;
    this.batch.close();
    this.db.close();
  }
}
