/**
 * One consumer per queue, for ConsumeOptions.exclusive (one worker per host
 * on `<topic>.<host>`), enforced by the broker without changing the queue:
 * oslo services declare `compute.<host>` without `x-single-active-consumer`,
 * and declaring it again with other arguments is refused (406).
 *
 * Two locks, both released by the broker when their connection goes (a
 * crash included, once the broker notices: heartbeat):
 * - an exclusive consume (basic.consume exclusive=true): a second consumer
 *   of the queue, hostwall or not (an oslo nova-compute), is refused with
 *   403 ACCESS_REFUSED "in exclusive use", and so is ours when another
 *   consumer is already there. RabbitMQ enforces it on classic queues only:
 *   a quorum queue (3.10, measured) takes a second consumer all the same;
 * - a claim queue, `hostwall.claim.<queue>`, exclusive to the connection: a
 *   second connection declaring it is refused with 405 RESOURCE_LOCKED,
 *   whatever the type of the queue it stands for. It also holds a worker's
 *   place while it drains (its consumer cancelled, intents still running),
 *   so a standby takes over only once the old worker has closed.
 * Over AMQP 1.0 (RabbitMQ 3.x's plugin subscribes every link with
 * exclusive=false) only the claim and a count of the queue's consumers are
 * possible: amqp10/receiver.ts.
 */
import { QueueTakenError } from '../errors';
import type { QueueSpec } from './transport';

export function claimQueueName(queue: string): string {
  return `hostwall.claim.${queue}`;
}

export function claimQueue(queue: string): QueueSpec {
  return { name: claimQueueName(queue), durable: false, autoDelete: false, exclusive: true, arguments: {} };
}

/** The error of a refused claim or exclusive consume, or of another consumer counted. */
export function queueTaken(queue: string, how: string): QueueTakenError {
  return new QueueTakenError(`${queue} already has a consumer (another worker for this host?): ${how}`, { queue });
}
