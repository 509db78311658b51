/**
 * One worker per intent store: a lock file beside the store, held for the
 * store's lifetime.
 *
 * Why a file of its own: the store itself is opened in SQLite's normal
 * locking mode so that its checkpoints can run on a second connection, on a
 * thread of their own (checkpointer.ts); an exclusive lock on the store
 * would shut that connection out too. The lock file is a small SQLite
 * database in `locking_mode = EXCLUSIVE` whose first transaction takes
 * SQLite's exclusive lock and keeps it until close: a second worker for the
 * same store fails to take it at once, and a worker that dies releases it
 * with its process (an OS file lock), so nothing stale is left to clean up.
 * It records who holds it, for an operator who wonders.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors';

export const lockPath = (storePath: string): string => `${storePath}.lock`;

const isBusy = (err: unknown): boolean => err instanceof Error && /SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(`${'code' in err ? String(err.code) : ''} ${err.message}`);

/** The held lock (close it to let go); ConfigError when another worker holds it. */
export function takeStoreLock(storePath: string): Database.Database {
  const db = new Database(lockPath(storePath), { timeout: 200 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
    db.exec('COMMIT');
    return db;
  } catch (err) {
    db.close();
    if (isBusy(err)) throw new ConfigError(`intent store ${storePath} is held by another worker (one worker per host and state path; lock ${lockPath(storePath)})`);
    throw new ConfigError(`intent store lock ${lockPath(storePath)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Whether a live process holds the store's lock (false when there is no lock file: no worker ever ran, or an older one). */
export function storeLockHeld(storePath: string): boolean {
  if (!existsSync(lockPath(storePath))) return false;
  let db: Database.Database;
  try {
    db = new Database(lockPath(storePath), { readonly: true, fileMustExist: true, timeout: 50 });
  } catch (err) {
    return isBusy(err);
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (err) {
    if (isBusy(err)) return true;
    throw err;
  } finally {
    db.close();
  }
}
