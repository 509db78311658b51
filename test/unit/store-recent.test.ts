import { expect } from 'chai';
import { IntentStore } from '../../src/store/intent-store';

describe('IntentStore.recent (what inspect shows)', () => {
  it('lists the latest intents first, filtered by time, instance and state', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 86_400_000 });
    const begin = (id: string, inst: string, at: number) =>
      store.begin({ intentId: id, kind: 'instance.pause', issuer: 'nova', instanceUuid: inst, args: '{}', request: '{}', receivedAt: at }, at);
    await begin('a', 'i1', 1_000);
    await begin('b', 'i2', 2_000);
    await begin('c', 'i1', 3_000);
    const key = (id: string) => ({ intentId: id, kind: 'instance.pause', issuer: 'nova' });
    await store.finish(key('a'), 'succeeded', '{}', 1_500);
    await store.finish(key('c'), 'failed', '{}', 3_500);
    expect(store.recent({ since: 0, limit: 10 }).map((r) => r.intent_id)).to.deep.equal(['c', 'b', 'a']);
    expect(store.recent({ since: 1_500, limit: 10 }).map((r) => r.intent_id)).to.deep.equal(['c', 'b']);
    expect(store.recent({ since: 0, instanceUuid: 'i1', limit: 10 }).map((r) => r.intent_id)).to.deep.equal(['c', 'a']);
    expect(store.recent({ since: 0, state: 'failed', limit: 10 }).map((r) => r.intent_id)).to.deep.equal(['c']);
    expect(store.recent({ since: 0, limit: 1 }).map((r) => r.intent_id)).to.deep.equal(['c']);
    store.close();
  });
});
