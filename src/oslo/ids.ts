/**
 * Identifiers as oslo.messaging makes them. `_unique_id`, `_msg_id` and queue
 * suffixes are `uuid.uuid4().hex` (32 lower-case hex digits, no dashes);
 * notification `message_id`s are `str(uuid.uuid4())` (with dashes).
 */
import { randomUUID } from 'node:crypto';

/** uuid4 as 32 hex digits, like Python's `uuid.uuid4().hex`. */
export function uuid4Hex(): string {
  return randomUUID().replace(/-/g, '');
}

/** uuid4 with dashes, like Python's `str(uuid.uuid4())`. */
export function uuid4(): string {
  return randomUUID();
}
