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

const key = (id: string, kind = 'instance.pause', issuer = 'nova') => ({ intentId: id, kind, issuer });
/** The second schema (user_version 2): a rowid table, one record per intent id. */
const SCHEMA_V2 = `
CREATE TABLE intents (
  intent_id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, instance_uuid TEXT, run_id TEXT NOT NULL, received_at INTEGER NOT NULL,
  started_at INTEGER, finished_at INTEGER, published_at INTEGER, state TEXT NOT NULL, outcome TEXT, request TEXT, args TEXT
);
CREATE INDEX intents_open ON intents(state) WHERE state IN ('started', 'retry') OR published_at IS NULL;
CREATE INDEX intents_received ON intents(received_at);
CREATE TABLE deliveries (fingerprint TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at INTEGER NOT NULL) WITHOUT ROWID;
`;

const begin = (id: string, kind = 'instance.pause', issuer = 'nova') => ({ ...key(id, kind, issuer), instanceUuid: 'u-1', args: '{}', request: '{"request_id":"req-1","issuer":"nova"}', receivedAt: 1 });

describe('store: the intent store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hw-store-'));
  });

  it('records started, then the outcome, then that it was published', async () => {
    const s = IntentStore.open({ path: join(dir, 'a.sqlite'), runId: 'run-1', retentionMs: 60_000 });
    await s.begin(begin('i1'));
    expect(s.get(key('i1'))).to.include({ state: 'started', kind: 'instance.pause', run_id: 'run-1', instance_uuid: 'u-1' });
    await s.finish(key('i1'), 'succeeded', '{"status":"succeeded"}');
    expect(s.get(key('i1'))).to.include({ state: 'succeeded', outcome: '{"status":"succeeded"}', published_at: null });
    await s.markPublished(key('i1'));
    expect(s.get(key('i1'))?.published_at).to.be.a('number');
    expect(s.get(key('nope'))).to.equal(undefined);
    s.close();
  });

  it('commits the writes of one event-loop turn together, and each resolves only after the commit', async () => {
    const s = IntentStore.open({ path: join(dir, 'b.sqlite'), runId: 'run-1', retentionMs: 60_000 });
    const writes = Array.from({ length: 500 }, (_, i) => s.begin(begin(`i${i}`)));
    // Queued, not yet written: the batch commits at the end of this turn (setImmediate).
    expect(s.get(key('i0'))).to.equal(undefined);
    await Promise.all(writes);
    expect(s.get(key('i499'))?.state).to.equal('started');
    s.close();
  });

  it('survives a restart: another run sees what a dead run started and never finished', async () => {
    const path = join(dir, 'c.sqlite');
    const first = IntentStore.open({ path, runId: 'run-1', retentionMs: 60_000 });
    await first.begin(begin('done'));
    await first.finish(key('done'), 'succeeded', '{}');
    await first.begin(begin('cut'));
    await first.begin(begin('unsent'));
    await first.finish(key('unsent'), 'failed', '{}');
    first.close();
    const second = IntentStore.open({ path, runId: 'run-2', retentionMs: 60_000 });
    expect(second.interrupted().map((r) => r.intent_id)).to.deep.equal(['cut']);
    expect(second.unpublished().map((r) => r.intent_id).sort()).to.deep.equal(['done', 'unsent']);
    second.markRetry(key('cut'));
    expect(second.get(key('cut'))?.state).to.equal('retry');
    expect(second.interrupted()).to.deep.equal([]);
    await second.begin(begin('cut'));
    expect(second.get(key('cut'))).to.include({ state: 'started', run_id: 'run-2' });
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
    await s.finish(key('old'), 'succeeded', '{}');
    await s.begin(begin('running'));
    expect(s.prune(10_000)).to.equal(1);
    expect(s.get(key('old'))).to.equal(undefined);
    expect(s.get(key('running'))?.state).to.equal('started');
    s.close();
  });

  it('commits a published mark nobody waits for with the next write', async () => {
    const s = IntentStore.open({ path: join(dir, 'f.sqlite'), runId: 'run-1', retentionMs: 60_000 });
    await s.begin(begin('i1'));
    await s.finish(key('i1'), 'succeeded', '{}');
    const mark = s.markPublishedLater(key('i1'));
    expect(s.get(key('i1'))?.published_at, 'queued, not committed').to.equal(null);
    await s.begin(begin('i2'));
    await mark;
    expect(s.get(key('i1'))?.published_at).to.be.a('number');
    expect(s.prior(key('i1'))).to.deep.include({ state: 'succeeded', outcome: '{}' });
    expect(s.prior(key('nope'))).to.equal(undefined);
    s.close();
  });

  it('migrates a store of the first schema (WITHOUT ROWID) in place, keeping every record', async () => {
    const path = join(dir, 'v1.sqlite');
    const v1 = new Database(path);
    v1.pragma('journal_mode = WAL');
    v1.exec(SCHEMA_V1);
    const insert = v1.prepare(`INSERT INTO intents (intent_id, kind, instance_uuid, args, request, run_id, received_at, started_at, finished_at, state, outcome, published_at)
      VALUES (@id, 'instance.pause', 'u-1', '{}', @request, 'old-run', @at, @at, @finished, @state, @outcome, @published)`);
    const bigOutcome = JSON.stringify({ status: 'succeeded', intentId: 'done', kind: 'instance.pause', result: {}, instance: { uuid: 'u-1', metadata: { pad: 'x'.repeat(5000) } } });
    const request = '{"request_id":"req-1","issuer":"nova"}';
    insert.run({ id: 'done', at: 1, finished: 2, state: 'succeeded', outcome: bigOutcome, published: 3, request });
    // Records whose request names no issuer, or is not JSON: kept, with no issuer.
    insert.run({ id: 'unsent', at: 2, finished: 3, state: 'failed', outcome: '{}', published: null, request: '{"request_id":"req-1"}' });
    insert.run({ id: 'cut', at: 3, finished: null, state: 'started', outcome: null, published: null, request: 'not json' });
    v1.prepare('INSERT INTO deliveries VALUES (?, 2, 1)').run('fp');
    v1.close();

    const s = IntentStore.open({ path, runId: 'run-2', retentionMs: 60_000 });
    expect(s.get(key('done'))).to.include({ state: 'succeeded', outcome: bigOutcome, published_at: 3, request, run_id: 'old-run', issuer: 'nova' });
    expect(s.prior(key('done')), 'its redelivery finds it').to.deep.include({ state: 'succeeded' });
    expect(s.get(key('unsent', 'instance.pause', ''))).to.include({ state: 'failed', issuer: '' });
    expect(s.interrupted().map((r) => [r.intent_id, r.issuer])).to.deep.equal([['cut', '']]);
    expect(s.unpublished().map((r) => r.intent_id)).to.deep.equal(['unsent']);
    expect(s.recent({ since: 0, limit: 10 }).map((r) => r.intent_id)).to.deep.equal(['cut', 'unsent', 'done']);
    expect(s.countDelivery('fp')).to.equal(3);
    await s.begin(begin('new'));
    await s.finish(key('new'), 'succeeded', '{}');
    s.close();

    const check = new Database(path, { readonly: true });
    const sql = check.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'intents'").pluck().get();
    expect(String(sql)).to.not.match(/WITHOUT ROWID/i);
    expect(check.pragma('user_version', { simple: true })).to.equal(3);
    expect(check.prepare('SELECT count(*) FROM intents').pluck().get()).to.equal(4);
    check.close();
    // Opened again: already migrated, nothing to do.
    const again = IntentStore.open({ path, runId: 'run-3', retentionMs: 60_000 });
    expect(again.get(key('new'))?.state).to.equal('succeeded');
    again.close();
  });

  it('migrates a store of the second schema (one record per id) to one per id, kind and issuer, keeping every record', async () => {
    const path = join(dir, 'v2.sqlite');
    const v2 = new Database(path);
    v2.pragma('journal_mode = WAL');
    v2.exec(SCHEMA_V2);
    v2.pragma('user_version = 2');
    const insert = v2.prepare(`INSERT INTO intents (intent_id, kind, instance_uuid, run_id, received_at, started_at, finished_at, published_at, state, outcome, request, args)
      VALUES (@id, @kind, 'u-1', 'old-run', @at, @at, @at, @at, 'succeeded', '{}', @request, '{}')`);
    insert.run({ id: 'a', kind: 'instance.destroy', at: 1, request: '{"issuer":"nova"}' });
    insert.run({ id: 'b', kind: 'port.ready', at: 2, request: '{"issuer":"neutron"}' });
    insert.run({ id: 'c', kind: 'instance.pause', at: 3, request: '{}' });
    v2.close();

    const s = IntentStore.open({ path, runId: 'run-2', retentionMs: 60_000 });
    expect(s.recent({ since: 0, limit: 10 }).map((r) => [r.intent_id, r.kind, r.issuer])).to.deep.equal([
      ['c', 'instance.pause', ''], ['b', 'port.ready', 'neutron'], ['a', 'instance.destroy', 'nova'],
    ]);
    // The id of Neutron's port.ready is now free for a Nova intent of another kind.
    expect(s.prior(key('b', 'port.ready', 'neutron'))).to.deep.include({ state: 'succeeded' });
    expect(s.prior(key('b', 'instance.destroy', 'nova'))).to.equal(undefined);
    await s.begin(begin('b', 'instance.destroy', 'nova'));
    expect(s.withId('b').map((r) => r.kind).sort()).to.deep.equal(['instance.destroy', 'port.ready']);
    s.close();
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
