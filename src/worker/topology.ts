/**
 * Everything the worker declares, as data (declared again on every
 * reconnect): oslo's RPC server objects for topic/server on the control
 * exchange, the notification queues oslo's notifier would declare, hostwall's
 * events exchange and this host's dead-letter queue.
 */
import type { Config } from '../config';
import { EVENTS_EXCHANGE } from '../events/schemas';
import { mergeTopologies, notificationTopology, rpcServerTopology } from '../oslo/topology';
import type { Topology } from '../transport/transport';
import { deadLetterQueueName } from '../oslo/wire/oslo-wire';


/** Nova's topics per notification_format (nova/conf/notifications.py). */
export function notificationTopics(format: Config['notificationFormat']): string[] {
  if (format === 'versioned') return ['versioned_notifications'];
  if (format === 'unversioned') return ['notifications'];
  return ['notifications', 'versioned_notifications'];
}

export interface WorkerTopology {
  declare: Topology;
  /** Queues consumed: topic.host, topic, this process's fanout queue. */
  consume: string[];
  /** The host's own queue, topic.host: consumed by this worker alone (one worker per host); topic and fanout are shared by design. */
  server: string;
  exclusive: string[];
  deadLetterQueue: string;
}

export function workerTopology(config: Pick<Config, 'host' | 'controlExchange' | 'topic' | 'queues' | 'notificationFormat'>): WorkerTopology {
  const opts = { queues: config.queues };
  const rpc = rpcServerTopology({ controlExchange: config.controlExchange, topic: config.topic, server: config.host }, opts);
  const notifications = notificationTopics(config.notificationFormat).flatMap((topic) =>
    (['info', 'error'] as const).map((priority) => notificationTopology({ exchange: config.controlExchange, topic, priority }, opts)),
  );
  const dlq = deadLetterQueueName(config.host);
  const own: Topology = {
    exchanges: [{ name: EVENTS_EXCHANGE, type: 'topic', durable: true, autoDelete: false, arguments: {} }],
    // Dead letters are kept whatever the queue mode: they are what an operator replays.
    queues: [{ name: dlq, durable: true, autoDelete: false, exclusive: false, arguments: config.queues === 'quorum' ? { 'x-queue-type': 'quorum' } : {} }],
    bindings: [],
  };
  return {
    declare: mergeTopologies(rpc.topology, ...notifications, own),
    consume: [rpc.queues.server, rpc.queues.topic, rpc.queues.fanout],
    server: rpc.queues.server,
    exclusive: [rpc.queues.server],
    deadLetterQueue: dlq,
  };
}

/**
 * Whether the broker counts a consumed queue's deliveries itself: quorum
 * queues set `x-delivery-count`; on any other queue that header is whatever
 * the publisher wrote (dispatch/poison.ts).
 */
export function countedByBroker(t: WorkerTopology): (queue: string) => boolean {
  const quorum = new Set(t.declare.queues.filter((q) => q.arguments?.['x-queue-type'] === 'quorum').map((q) => q.name));
  return (queue) => quorum.has(queue);
}
