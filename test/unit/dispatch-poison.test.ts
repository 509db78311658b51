/**
 * Delivery counts (dispatch/poison.ts) come from the broker, never from the
 * sender: a publisher's own `x-delivery-count` counts for nothing on a
 * classic queue, and on a first delivery anywhere.
 */
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { countDelivery } from '../../src/dispatch/poison';
import { IntentStore } from '../../src/store/intent-store';
import type { InboundMessage } from '../../src/transport/transport';
import { countedByBroker, workerTopology } from '../../src/worker/topology';

const message = (queue: string, redelivered: boolean, headers: Record<string, unknown>, body = 'b'): InboundMessage => ({
  body: Buffer.from(body), contentType: 'application/json', contentEncoding: undefined, exchange: 'nova', routingKey: queue, queue,
  headers, userId: undefined, redelivered,
});

describe('dispatch: delivery counts', () => {
  let store: IntentStore;
  beforeEach(() => {
    store = IntentStore.open({ path: ':memory:', runId: 'r', retentionMs: 60_000 });
  });
  afterEach(() => store.close());

  it('does not count a first delivery, whatever x-delivery-count its sender wrote', () => {
    expect(countDelivery(message('compute.h1', false, { 'x-delivery-count': 50 }), store, () => true)).to.equal(undefined);
    expect(countDelivery(message('compute.h1', false, { 'x-delivery-count': 50 }), store)).to.equal(undefined);
  });

  it('counts a redelivery on a classic queue locally, ignoring the header', () => {
    const q = message('compute.h1', true, { 'x-delivery-count': 50 });
    expect(countDelivery(q, store)?.deliveries).to.equal(2);
    expect(countDelivery(q, store)?.deliveries).to.equal(3);
  });

  it('takes the larger of the broker\'s count and the local one on a quorum queue', () => {
    expect(countDelivery(message('compute.h1', true, { 'x-delivery-count': 5 }, 'q'), store, () => true)?.deliveries).to.equal(6);
    expect(countDelivery(message('compute.h1', true, { 'x-delivery-count': 'many' }, 'r'), store, () => true)?.deliveries).to.equal(2);
  });

  it('knows which consumed queues the broker counts: the quorum ones the worker declared', () => {
    const flags = { amqpUrl: 'amqp://127.0.0.1', host: 'h1' };
    const quorum = countedByBroker(workerTopology(loadConfig({ env: {}, flags: { ...flags, queues: 'quorum' } })));
    expect(quorum('compute.h1')).to.equal(true);
    expect(quorum('compute')).to.equal(true);
    const classic = countedByBroker(workerTopology(loadConfig({ env: {}, flags: { ...flags, queues: 'durable' } })));
    expect(classic('compute.h1')).to.equal(false);
  });
});
