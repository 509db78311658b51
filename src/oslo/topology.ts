/**
 * The exchanges, queues and bindings a real oslo.messaging 14.0.3 declares,
 * as data (impl_rabbit.py declare_topic_consumer / declare_fanout_consumer /
 * declare_direct_consumer / _publish_and_creates_default_queue), so hostwall
 * can share a broker with oslo services: the broker refuses (406, channel
 * closed) any re-declaration whose flags differ from the first one.
 *
 * Measured against the real library (test/compat/oslo-topology.test.ts):
 * - transient (oslo defaults): everything non-durable; the fanout exchange is
 *   auto-delete; fanout and reply queues expire after 30 min unused.
 * - durable (amqp_durable_queues): the control exchange and the topic,
 *   topic.server and notification queues become durable; fanout exchange,
 *   fanout and reply queues stay as in transient.
 * - quorum (rabbit_quorum_queue): as durable, and those queues are quorum
 *   queues (x-queue-type, optional x-delivery-limit and in-memory limits).
 */
import { z } from 'zod';
import type { BindingSpec, ExchangeSpec, QueueSpec, Topology } from '../transport/transport';
import { uuid4Hex } from './ids';
import { type NotificationPriority, notificationRoutingKey } from './notification';

export const QueueModeSchema = z.enum(['transient', 'durable', 'quorum']);

export const OsloQueueOptionsSchema = z.object({
  queues: QueueModeSchema.default('transient'),
  /** rabbit_transient_queues_ttl (s): x-expires of fanout and reply queues; 0 drops the argument. */
  transientQueuesTtlS: z.number().int().min(0).default(1800),
  /** rabbit_quorum_delivery_limit: x-delivery-limit when > 0 (quorum only). */
  quorumDeliveryLimit: z.number().int().min(0).default(0),
  /** rabbit_quroum_max_memory_length (sic, 14.0.3 spelling): x-max-in-memory-length when > 0. */
  quorumMaxMemoryLength: z.number().int().min(0).default(0),
  /** rabbit_quroum_max_memory_bytes: x-max-in-memory-bytes when > 0. */
  quorumMaxMemoryBytes: z.number().int().min(0).default(0),
});
export type OsloQueueOptions = z.input<typeof OsloQueueOptionsSchema>;
type QueueOpts = z.output<typeof OsloQueueOptionsSchema>;

/** The `durable` flag oslo uses for the control exchange and its topic/notification queues. */
function durableFor(q: QueueOpts): boolean {
  return q.queues !== 'transient';
}

/** _get_queue_arguments for topic, server and notification queues (never x-expires there). */
function topicQueueArguments(q: QueueOpts): Record<string, unknown> {
  if (q.queues !== 'quorum') return {};
  const args: Record<string, unknown> = { 'x-queue-type': 'quorum' };
  if (q.quorumDeliveryLimit > 0) args['x-delivery-limit'] = q.quorumDeliveryLimit;
  if (q.quorumMaxMemoryLength > 0) args['x-max-in-memory-length'] = q.quorumMaxMemoryLength;
  if (q.quorumMaxMemoryBytes > 0) args['x-max-in-memory-bytes'] = q.quorumMaxMemoryBytes;
  return args;
}

/** Fanout and reply queues: classic, non-durable in every 14.0.3 mode, with the transient TTL. */
function transientQueueArguments(q: QueueOpts): Record<string, unknown> {
  return q.transientQueuesTtlS > 0 ? { 'x-expires': q.transientQueuesTtlS * 1000 } : {};
}

export function controlExchange(name: string, options: OsloQueueOptions = {}): ExchangeSpec {
  const q = OsloQueueOptionsSchema.parse(options);
  return { name, type: 'topic', durable: durableFor(q), autoDelete: false, arguments: {} };
}

function topicQueue(name: string, q: QueueOpts): QueueSpec {
  return { name, durable: durableFor(q), autoDelete: false, exclusive: false, arguments: topicQueueArguments(q) };
}

/** `<topic>_fanout_<uuid4 hex>`: one per server process, a new name each start. */
export function fanoutQueueName(topic: string, id: string = uuid4Hex()): string {
  return `${topic}_fanout_${id}`;
}

export interface RpcServerTarget {
  controlExchange: string;
  topic: string;
  server: string;
  /** The per-process suffix of the fanout queue; fresh when absent. */
  fanoutId?: string;
}

/**
 * What `get_rpc_server(transport, Target(topic, server))` declares: the control
 * exchange, queues `topic` and `topic.server` bound with their own names as
 * keys, the `topic_fanout` exchange and this process's fanout queue bound with
 * key `topic`. Returns the fanout queue's name so the caller can consume it.
 */
export function rpcServerTopology(
  target: RpcServerTarget,
  options: OsloQueueOptions = {},
): { topology: Topology; queues: { topic: string; server: string; fanout: string } } {
  const q = OsloQueueOptionsSchema.parse(options);
  const serverQueue = `${target.topic}.${target.server}`;
  const fanoutExchange = `${target.topic}_fanout`;
  const fanout = fanoutQueueName(target.topic, target.fanoutId);
  const exchanges: ExchangeSpec[] = [
    controlExchange(target.controlExchange, q),
    // Fanout exchanges are auto-delete and non-durable in every mode: they vanish with their last queue.
    { name: fanoutExchange, type: 'fanout', durable: false, autoDelete: true, arguments: {} },
  ];
  const queues: QueueSpec[] = [
    topicQueue(target.topic, q),
    topicQueue(serverQueue, q),
    { name: fanout, durable: false, autoDelete: false, exclusive: false, arguments: transientQueueArguments(q) },
  ];
  const bindings: BindingSpec[] = [
    { queue: target.topic, exchange: target.controlExchange, routingKey: target.topic },
    { queue: serverQueue, exchange: target.controlExchange, routingKey: serverQueue },
    { queue: fanout, exchange: fanoutExchange, routingKey: target.topic },
  ];
  return { topology: { exchanges, queues, bindings }, queues: { topic: target.topic, server: serverQueue, fanout } };
}

/**
 * What a notifier declares on its first publish to `<topic>.<priority>` (and a
 * listener without a pool): the control exchange and a queue named like the
 * routing key, bound with it, so notifications wait for a late consumer.
 */
export function notificationTopology(
  target: { exchange: string; topic: string; priority: NotificationPriority },
  options: OsloQueueOptions = {},
): Topology {
  const q = OsloQueueOptionsSchema.parse(options);
  const name = notificationRoutingKey(target.topic, target.priority);
  return {
    exchanges: [controlExchange(target.exchange, q)],
    queues: [topicQueue(name, q)],
    bindings: [{ queue: name, exchange: target.exchange, routingKey: name }],
  };
}

/** `reply_<uuid4 hex>`: an RPC client's reply queue, one per transport, reused for all its calls. */
export function replyQueueName(id: string = uuid4Hex()): string {
  return `reply_${id}`;
}

/**
 * The caller's side of the direct reply path: its reply queue, reached through
 * the default exchange (no exchange or binding to declare; servers publish
 * to "" with the queue name as routing key, mandatory).
 */
export function replyQueueTopology(name: string = replyQueueName(), options: OsloQueueOptions = {}): Topology {
  const q = OsloQueueOptionsSchema.parse(options);
  return {
    exchanges: [],
    queues: [{ name, durable: false, autoDelete: false, exclusive: false, arguments: transientQueueArguments(q) }],
    bindings: [],
  };
}

/** Merge topologies (e.g. several notification priorities), dropping repeated objects. */
export function mergeTopologies(...parts: Topology[]): Topology {
  const seen = new Set<string>();
  const keep = <T>(kind: string, key: (x: T) => string) => (x: T): boolean => {
    const k = `${kind}:${key(x)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  };
  return {
    exchanges: parts.flatMap((p) => p.exchanges).filter(keep<ExchangeSpec>('x', (e) => e.name)),
    queues: parts.flatMap((p) => p.queues).filter(keep<QueueSpec>('q', (q) => q.name)),
    bindings: parts.flatMap((p) => p.bindings).filter(keep<BindingSpec>('b', (b) => `${b.exchange}|${b.queue}|${b.routingKey}`)),
  };
}
