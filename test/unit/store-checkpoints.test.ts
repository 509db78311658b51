import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors';
import { Checkpointer } from '../../src/store/checkpointer';
import { IntentStore } from '../../src/store/intent-store';
import { readRecentIntents, StoreHeldError } from '../../src/store/intent-store-reader';
import { lockPath, storeLockHeld } from '../../src/store/store-lock';
import { eventually } from '../support/eventually';

const key = (id: string) => ({ intentId: id, kind: 'instance.pause', issuer: 'nova' });
const begin = (id: string) => ({ ...key(id), instanceUuid: 'u-1', args: '{}', request: JSON.stringify({ request_id: 'req-1', issuer: 'nova', pad: 'x'.repeat(800) }), receivedAt: 1 });

describe('store: checkpoints off the event loop, and the one-worker lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hw-ckpt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('never checkpoints on its own connection: the thread copies the WAL into the database file', async () => {
    const path = join(dir, 'intents.sqlite');
    const store = IntentStore.open({ path, runId: 'r', retentionMs: 60_000 });
    try {
      const sizeBefore = statSync(path).size;
      // ~3,000 pages of WAL: with SQLite's automatic checkpoints (every 1,000 pages) a commit would have copied them.
      for (let b = 0; b < 30; b++) await Promise.all(Array.from({ length: 100 }, (_, i) => store.begin(begin(`i-${b}-${i}`))));
      const { checkpointer } = store;
      expect(checkpointer?.failure).to.equal(undefined);
      await eventually('a checkpoint on the thread', () => (checkpointer?.stats.frames ?? 0) > 0);
      await eventually('the database file grown by the checkpoint', () => statSync(path).size > sizeBefore);
      expect(store.get(key('i-29-99'))?.state).to.equal('started');
    } finally {
      store.close();
    }
    // Everything committed is in the file once closed (the close checkpoints what is left).
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM intents').get()).to.deep.equal({ n: 3000 });
    db.close();
  });

  it('falls back to automatic checkpoints when the thread cannot run, and says why', async () => {
    let why: string | undefined;
    const c = new Checkpointer(join(dir, 'missing', 'intents.sqlite'), (w) => {
      why = w;
    });
    await eventually('the fallback', () => why);
    expect(why).to.match(/opening .*missing/);
    expect(c.failure).to.equal(why);
    c.stop();
  });

  it('holds the lock file while open: a second worker and the offline reader are told, and both work once it is closed', () => {
    const path = join(dir, 'intents.sqlite');
    const store = IntentStore.open({ path, runId: 'a', retentionMs: 60_000 });
    expect(storeLockHeld(path)).to.equal(true);
    expect(() => IntentStore.open({ path, runId: 'b', retentionMs: 60_000 })).to.throw(ConfigError, /held by another worker.*\.lock/);
    expect(() => readRecentIntents(path, { since: 0, limit: 5 })).to.throw(StoreHeldError);
    store.close();
    expect(storeLockHeld(path)).to.equal(false);
    expect(readRecentIntents(path, { since: 0, limit: 5 })).to.deep.equal([]);
    const again = IntentStore.open({ path, runId: 'b', retentionMs: 60_000 });
    again.close();
    // Who held it last, for an operator.
    const lock = new Database(lockPath(path), { readonly: true });
    expect(lock.prepare('SELECT pid FROM holder').get()).to.deep.equal({ pid: process.pid });
    lock.close();
  });
});
