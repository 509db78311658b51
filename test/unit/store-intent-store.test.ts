import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors';
import { IntentStore } from '../../src/store/intent-store';
import { isReplay, REPLAY_HEADERS, replayHeaders } from '../../src/store/replay-marks';

/** The first release's schema (user_version 0): the intents table WITHOUT ROWID. */
const SCHEMA_V1 = `
CREATE TABLE intents (
  intent_id TEXT PRIMARY KEY, kind TEXT NOT NULL, instance_uuid TEXT, args TEXT, request TEXT, run_id TEXT NOT NULL,
  received_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, state TEXT NOT NULL, outcome TEXT, published_at INTEGER
) WITHOUT ROWID;
CREATE INDEX intents_open ON intents(state) WHERE state IN ('started', 'retry') OR published_at IS NULL;
CREATE INDEX intents_received ON intents(received_at);
CREATE TABLE deliveries (fingerprint TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at INTEGER NOT NULL) WITHOUT ROWID;
`;

const begin = (id: string, kind = 'instance.pause') => ({ intentId: id, kind, instanceUuid: 'u-1', args: '{}', request: '{"request_id":"req-1"}', receivedAt: 1 });

describe('store: the intent store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hw-store-'));
  });

  it('records started, then the outcome, then that it was published', async () => {
    const s = IntentStore.open({ path: join(dir, 'a.sqlite'), runId: 'run-1', retentionMs: 60_000 });
    await s.begin(begin('i1'));
    expect(s.get('i1')).to.include({ state: 'started', kind: 'instance.pause', run_id: 'run-1', instance_uuid: 'u-1' });
    await s.finish('i1', 'succeeded', '{"status":"succeeded"}');
    expect(s.get('i1')).to.include({ state: 'succeeded', outcome: '{"status":"succeeded"}', published_at: null });
    await s.markPublished('i1');
    expect(s.get('i1')?.published_at).to.be.a('number');
    expect(s.get('nope')).to.equal(undefined);
    s.close();
  });

  it('commits the writes of one event-loop turn together, and each resolves only after the commit', async () => {
    const s = IntentStore.open({ path: join(dir, 'b.sqlite'), runId: 'run-1', retentionMs: 60_000 });
    const writes = Array.from({ length: 500 }, (_, i) => s.begin(begin(`i${i}`)));
    // Queued, not yet written: the batch commits at the end of this turn (setImmediate).
    expect(s.get('i0')).to.equal(undefined);
    await Promise.all(writes);
    expect(s.get('i499')?.state).to.equal('started');
    s.close();
  });

  it('survives a restart: another run sees what a dead run started and never finished', async () => {
    const path = join(dir, 'c.sqlite');
    const first = IntentStore.open({ path, runId: 'run-1', retentionMs: 60_000 });
    await first.begin(begin('done'));
    await first.finish('done', 'succeeded', '{}');
    await first.begin(begin('cut'));
    await first.begin(begin('unsent'));
    await first.finish('unsent', 'failed', '{}');
    first.close();
    const second = IntentStore.open({ path, runId: 'run-2', retentionMs: 60_000 });
    expect(second.interrupted().map((r) => r.intent_id)).to.deep.equal(['cut']);
    expect(second.unpublished().map((r) => r.intent_id).sort()).to.deep.equal(['done', 'unsent']);
    second.markRetry('cut');
    expect(second.get('cut')?.state).to.equal('retry');
    expect(second.interrupted()).to.deep.equal([]);
    await second.begin(begin('cut'));
    expect(second.get('cut')).to.include({ state: 'started', run_id: 'run-2' });
    second.close();
  });

  it('lets one worker at a time hold a store', () => {
    const path = join(dir, 'd.sqlite');
    const a = IntentStore.open({ path, runId: 'a', retentionMs: 60_000 });
    expect(() => IntentStore.open({ path, runId: 'b', retentionMs: 60_000 })).to.throw(ConfigError, /held by another worker/);
    a.close();
    IntentStore.open({ path, runId: 'c', retentionMs: 60_000 }).close();
  });

  it('counts deliveries durably and forgets them on request', async () => {
    const path = join(dir, 'e.sqlite');
    const s = IntentStore.open({ path, runId: 'a', retentionMs: 60_000 });
    expect(s.countDelivery('fp')).to.equal(1);
    expect(s.countDelivery('fp')).to.equal(2);
    s.close();
    const t = IntentStore.open({ path, runId: 'b', retentionMs: 60_000 });
    expect(t.countDelivery('fp')).to.equal(3);
    await t.forgetDelivery('fp');
    expect(t.countDelivery('fp')).to.equal(1);
    t.close();
  });

  it('prunes finished records past the retention, never started ones', async () => {
    const s = IntentStore.open({ path: ':memory:', runId: 'a', retentionMs: 1000 });
    await s.begin(begin('old'));
    await s.finish('old', 'succeeded', '{}');
    await s.begin(begin('running'));
    expect(s.prune(10_000)).to.equal(1);
    expect(s.get('old')).to.equal(undefined);
    expect(s.get('running')?.state).to.equal('started');
    s.close();
  });

  it('commits a published mark nobody waits for with the next write', async () => {
    const s = IntentStore.open({ path: join(dir, 'f.sqlite'), runId: 'run-1', retentionMs: 60_000 });
    await s.begin(begin('i1'));
    await s.finish('i1', 'succeeded', '{}');
    const mark = s.markPublishedLater('i1');
    expect(s.get('i1')?.published_at, 'queued, not committed').to.equal(null);
    await s.begin(begin('i2'));
    await mark;
    expect(s.get('i1')?.published_at).to.be.a('number');
    expect(s.prior('i1')).to.deep.include({ state: 'succeeded', outcome: '{}' });
    expect(s.prior('nope')).to.equal(undefined);
    s.close();
  });

  it('migrates a store of the first schema (WITHOUT ROWID) in place, keeping every record', async () => {
    const path = join(dir, 'v1.sqlite');
    const v1 = new Database(path);
    v1.pragma('journal_mode = WAL');
    v1.exec(SCHEMA_V1);
    const insert = v1.prepare(`INSERT INTO intents (intent_id, kind, instance_uuid, args, request, run_id, received_at, started_at, finished_at, state, outcome, published_at)
      VALUES (@id, 'instance.pause', 'u-1', '{}', '{"request_id":"req-1"}', 'old-run', @at, @at, @finished, @state, @outcome, @published)`);
    const bigOutcome = JSON.stringify({ status: 'succeeded', intentId: 'done', kind: 'instance.pause', result: {}, instance: { uuid: 'u-1', metadata: { pad: 'x'.repeat(5000) } } });
    insert.run({ id: 'done', at: 1, finished: 2, state: 'succeeded', outcome: bigOutcome, published: 3 });
    insert.run({ id: 'unsent', at: 2, finished: 3, state: 'failed', outcome: '{}', published: null });
    insert.run({ id: 'cut', at: 3, finished: null, state: 'started', outcome: null, published: null });
    v1.prepare('INSERT INTO deliveries VALUES (?, 2, 1)').run('fp');
    v1.close();

    const s = IntentStore.open({ path, runId: 'run-2', retentionMs: 60_000 });
    expect(s.get('done')).to.include({ state: 'succeeded', outcome: bigOutcome, published_at: 3, request: '{"request_id":"req-1"}', run_id: 'old-run' });
    expect(s.interrupted().map((r) => r.intent_id)).to.deep.equal(['cut']);
    expect(s.unpublished().map((r) => r.intent_id)).to.deep.equal(['unsent']);
    expect(s.recent({ since: 0, limit: 10 }).map((r) => r.intent_id)).to.deep.equal(['cut', 'unsent', 'done']);
    expect(s.countDelivery('fp')).to.equal(3);
    await s.begin(begin('new'));
    await s.finish('new', 'succeeded', '{}');
    s.close();

    const check = new Database(path, { readonly: true });
    const sql = check.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'intents'").pluck().get();
    expect(String(sql)).to.not.match(/WITHOUT ROWID/i);
    expect(check.pragma('user_version', { simple: true })).to.equal(2);
    expect(check.prepare('SELECT count(*) FROM intents').pluck().get()).to.equal(4);
    check.close();
    // Opened again: already migrated, nothing to do.
    const again = IntentStore.open({ path, runId: 'run-3', retentionMs: 60_000 });
    expect(again.get('new')?.state).to.equal('succeeded');
    again.close();
  });

  it('refuses a store written by a newer schema', () => {
    const path = join(dir, 'v9.sqlite');
    const db = new Database(path);
    db.pragma('user_version = 9');
    db.close();
    expect(() => IntentStore.open({ path, runId: 'a', retentionMs: 60_000 })).to.throw(ConfigError, /schema version 9/);
  });

  it('marks replays with x-hostwall-replay-of', () => {
    const h = replayHeaders('journal', '42', new Date(0));
    expect(h).to.deep.equal({ [REPLAY_HEADERS.of]: 'journal:42', [REPLAY_HEADERS.source]: 'journal', [REPLAY_HEADERS.at]: '1970-01-01T00:00:00.000Z' });
    expect(isReplay(h)).to.equal(true);
    expect(isReplay({})).to.equal(false);
  });
});
