/**
 * Reading a host's intent store offline (`hostwall inspect --store`), when
 * its worker is down, which is when an operator needs it.
 *
 * Read-only and never in the worker's way: the file is opened read-only
 * (no write, no migration, no pragma that writes: journal mode and locking
 * mode are left as the worker set them), with a short busy timeout, and
 * closed after one query. The worker keeps its store in WAL mode with
 * `locking_mode = EXCLUSIVE` (intent-store.ts: one worker per store): while
 * it runs, it holds the file's lock and no other connection can read it;
 * this reader then fails at once with StoreHeldError, and the worker, which
 * can answer for itself, is asked instead. A store a killed worker left with
 * its WAL file is read with the WAL's committed transactions.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors';
import { RECENT_SQL, type RecentIntent, type RecentQuery, RecentRow, recentParams, SCHEMA_VERSION } from './intent-store';

/** The store is locked by the worker that owns it (it is running). */
export class StoreHeldError extends ConfigError {}

/** `--store PATH`: the store file, or a worker's state path (the directory holding `intents-<host>.sqlite`). */
export function storeFile(path: string, host: string): string {
  return existsSync(path) && statSync(path).isDirectory() ? join(path, `intents-${host}.sqlite`) : path;
}

const isBusy = (err: unknown): boolean => err instanceof Error && /SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(`${'code' in err ? String(err.code) : ''} ${err.message}`);

/** The rows `IntentStore.recent` would return, read from the file without its worker. */
export function readRecentIntents(path: string, q: RecentQuery): RecentIntent[] {
  if (!existsSync(path)) throw new ConfigError(`no intent store at ${path} (the worker's is <state path>/intents-<host>.sqlite)`);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 100 });
  } catch (err) {
    throw new ConfigError(`cannot open intent store ${path} read-only: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const version: unknown = db.pragma('user_version', { simple: true });
    if (version !== SCHEMA_VERSION) {
      throw new ConfigError(`intent store ${path} has schema version ${String(version)}, this hostwall reads version ${SCHEMA_VERSION}: read it with the hostwall that wrote it, or start this host's worker once (it migrates the store)`);
    }
    return db.prepare(RECENT_SQL).all(recentParams(q)).map((r) => RecentRow.parse(r));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (isBusy(err)) throw new StoreHeldError(`intent store ${path} is held by its running worker (it keeps the store locked)`);
    throw new ConfigError(`reading intent store ${path}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    db.close();
  }
}

/** The same, as an IntentRecords (dispatch/intent-records.ts), so a page is cut exactly as the worker cuts it. */
export function offlineRecords(path: string): { recent(q: RecentQuery): RecentIntent[] } {
  return { recent: (q) => readRecentIntents(path, q) };
}
