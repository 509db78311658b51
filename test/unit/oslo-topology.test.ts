import { expect } from 'chai';
import {
  controlExchange, fanoutQueueName, mergeTopologies, notificationTopology, replyQueueName, replyQueueTopology, rpcServerTopology,
} from '../../src/oslo/topology';

const target = { controlExchange: 'nova', topic: 'compute', server: 'host1', fanoutId: 'f'.repeat(32) };

describe('oslo topology (as measured from oslo.messaging 14.0.3)', () => {
  it('transient: all non-durable, fanout exchange auto-delete, fanout queue x-expires 30 min', () => {
    const { topology, queues } = rpcServerTopology(target, { queues: 'transient' });
    expect(queues).to.deep.equal({ topic: 'compute', server: 'compute.host1', fanout: `compute_fanout_${'f'.repeat(32)}` });
    expect(topology.exchanges).to.deep.equal([
      { name: 'nova', type: 'topic', durable: false, autoDelete: false, arguments: {} },
      { name: 'compute_fanout', type: 'fanout', durable: false, autoDelete: true, arguments: {} },
    ]);
    expect(topology.queues).to.deep.equal([
      { name: 'compute', durable: false, autoDelete: false, exclusive: false, arguments: {} },
      { name: 'compute.host1', durable: false, autoDelete: false, exclusive: false, arguments: {} },
      { name: queues.fanout, durable: false, autoDelete: false, exclusive: false, arguments: { 'x-expires': 1800000 } },
    ]);
    expect(topology.bindings).to.deep.equal([
      { queue: 'compute', exchange: 'nova', routingKey: 'compute' },
      { queue: 'compute.host1', exchange: 'nova', routingKey: 'compute.host1' },
      { queue: queues.fanout, exchange: 'compute_fanout', routingKey: 'compute' },
    ]);
  });

  it('durable: control exchange and topic/server queues durable; fanout side unchanged', () => {
    const { topology } = rpcServerTopology(target, { queues: 'durable' });
    expect(topology.exchanges.map((e) => [e.name, e.durable])).to.deep.equal([['nova', true], ['compute_fanout', false]]);
    expect(topology.queues.map((q) => [q.name.slice(0, 15), q.durable, q.arguments])).to.deep.equal([
      ['compute', true, {}], ['compute.host1', true, {}], ['compute_fanout_', false, { 'x-expires': 1800000 }],
    ]);
  });

  it('quorum: durable quorum queues with an optional delivery limit; fanout queue stays classic', () => {
    const plain = rpcServerTopology(target, { queues: 'quorum' }).topology;
    expect(plain.queues[0]).to.deep.include({ durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const limited = rpcServerTopology(target, { queues: 'quorum', quorumDeliveryLimit: 5 }).topology;
    expect(limited.queues[1]?.arguments).to.deep.equal({ 'x-queue-type': 'quorum', 'x-delivery-limit': 5 });
    expect(limited.queues[2]?.arguments).to.deep.equal({ 'x-expires': 1800000 });
    expect(limited.exchanges[0]?.durable).to.equal(true);
  });

  it('drops x-expires when the transient TTL is 0 and makes a fresh uuid4-hex fanout name by default', () => {
    const { queues, topology } = rpcServerTopology({ controlExchange: 'x', topic: 't', server: 's' }, { transientQueuesTtlS: 0 });
    expect(queues.fanout).to.match(/^t_fanout_[0-9a-f]{32}$/);
    expect(topology.queues[2]?.arguments).to.deep.equal({});
    expect(fanoutQueueName('t')).to.not.equal(fanoutQueueName('t'));
  });

  it('notification queues are named and bound like the routing key, flags like topic queues', () => {
    expect(notificationTopology({ exchange: 'nova', topic: 'versioned_notifications', priority: 'info' }, { queues: 'quorum' })).to.deep.equal({
      exchanges: [controlExchange('nova', { queues: 'quorum' })],
      queues: [{ name: 'versioned_notifications.info', durable: true, autoDelete: false, exclusive: false, arguments: { 'x-queue-type': 'quorum' } }],
      bindings: [{ queue: 'versioned_notifications.info', exchange: 'nova', routingKey: 'versioned_notifications.info' }],
    });
  });

  it('reply queues: reply_<hex>, classic non-durable with x-expires, nothing to bind', () => {
    expect(replyQueueName()).to.match(/^reply_[0-9a-f]{32}$/);
    expect(replyQueueTopology('reply_x', { queues: 'quorum' })).to.deep.equal({
      exchanges: [], bindings: [],
      queues: [{ name: 'reply_x', durable: false, autoDelete: false, exclusive: false, arguments: { 'x-expires': 1800000 } }],
    });
  });

  it('merges topologies without repeating objects', () => {
    const a = notificationTopology({ exchange: 'nova', topic: 'n', priority: 'info' });
    const b = notificationTopology({ exchange: 'nova', topic: 'n', priority: 'error' });
    const m = mergeTopologies(a, b, a);
    expect(m.exchanges).to.have.length(1);
    expect(m.queues.map((q) => q.name)).to.deep.equal(['n.info', 'n.error']);
    expect(m.bindings).to.have.length(2);
  });
});
