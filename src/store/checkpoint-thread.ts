/**
 * The body of the intent store's checkpoint thread (checkpointer.ts): its
 * own connection to the store, a PASSIVE checkpoint every `intervalMs`.
 *
 * A PASSIVE checkpoint copies the WAL's committed pages into the database
 * file and syncs it without taking any lock the worker's writes need; a page
 * a write is still adding is left for the next one. When nothing is new it
 * returns at once without a sync.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointThreadData {
  path: string;
  intervalMs: number;
}

/** To the main thread: opened, each checkpoint that copied pages, or a failure that ends the thread. */
export type CheckpointThreadReport =
  | { type: 'ready' }
  | { type: 'checkpoint'; frames: number; ms: number }
  | { type: 'failed'; message: string };

const post = (r: CheckpointThreadReport) => parentPort?.postMessage(r);
const isBusy = (err: unknown): boolean => err instanceof Error && /SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(`${'code' in err ? String(err.code) : ''} ${err.message}`);

function main(): void {
  const { path, intervalMs } = workerData as CheckpointThreadData;
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 100 });
    // The sync a checkpoint makes follows this connection's setting: the worker's (intent-store.ts).
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0');
  } catch (err) {
    post({ type: 'failed', message: `opening ${path}: ${String(err)}` });
    return;
  }
  let backfilled = 0;
  const timer = setInterval(() => {
    try {
      const t0 = performance.now();
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      // `checkpointed` counts from the WAL's start; it drops back when the worker restarts the WAL.
      const done = r?.checkpointed ?? 0;
      if (done !== backfilled && done > 0) post({ type: 'checkpoint', frames: done < backfilled ? done : done - backfilled, ms: performance.now() - t0 });
      backfilled = done;
    } catch (err) {
      // Another checkpoint or a recovery in the way: the next tick tries again.
      if (isBusy(err)) return;
      clearInterval(timer);
      db.close();
      post({ type: 'failed', message: String(err) });
    }
  }, intervalMs);
  parentPort?.on('message', (m: unknown) => {
    if (m !== 'stop') return;
    clearInterval(timer);
    db.close();
    parentPort?.close();
  });
  post({ type: 'ready' });
}

main();
