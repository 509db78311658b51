import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors';
import { IntentStore } from '../../src/store/intent-store';
import { isReplay, REPLAY_HEADERS, replayHeaders } from '../../src/store/replay-marks';

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
    // Queued, not yet written: the batch commits on setImmediate.
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

  it('marks replays with x-hostwall-replay-of', () => {
    const h = replayHeaders('journal', '42', new Date(0));
    expect(h).to.deep.equal({ [REPLAY_HEADERS.of]: 'journal:42', [REPLAY_HEADERS.source]: 'journal', [REPLAY_HEADERS.at]: '1970-01-01T00:00:00.000Z' });
    expect(isReplay(h)).to.equal(true);
    expect(isReplay({})).to.equal(false);
  });
});
