/**
 * Counting the deliveries of a message that keeps coming back unfinished
 * (the worker crashed on it, or could not settle it), so it is dead-lettered
 * as POISON after `poisonDeliveries` instead of looping for ever (BullMQ's
 * maxStartedAttempts; Watermill's poison queue).
 *
 * Two counts, the larger wins: a quorum queue's `x-delivery-count` header
 * (returns counted by the broker), and a local count in the intent store by
 * the body's SHA-256, bumped (and committed at once) for every delivery the
 * broker flags `redelivered`. The local count is what classic queues have,
 * and it survives the crashes it counts. Only redeliveries are counted: the
 * first delivery of every message costs nothing.
 */
import { createHash } from 'node:crypto';
import type { InboundMessage } from '../transport/transport';
import type { IntentStore } from '../store/intent-store';

export interface DeliveryCount {
  fingerprint: string;
  /** This delivery's number: 1 for the first. */
  deliveries: number;
}

export function countDelivery(msg: InboundMessage, store: IntentStore): DeliveryCount | undefined {
  const header = msg.headers['x-delivery-count'];
  const brokerCount = typeof header === 'number' && Number.isFinite(header) ? header : undefined;
  if (!msg.redelivered && brokerCount === undefined) return undefined;
  const fingerprint = createHash('sha256').update(msg.body).digest('hex');
  const local = msg.redelivered ? store.countDelivery(fingerprint) : 0;
  return { fingerprint, deliveries: 1 + Math.max(local, brokerCount ?? 0) };
}
