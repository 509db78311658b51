/**
 * Writing to Nova's database through a conductor that may be slow, busy or
 * restarting. nova-compute gives up after one rpc_response_timeout and leaves
 * the instance to its periodic tasks; a compute host that must never leave a
 * server stuck in BUILD keeps trying, within a bound:
 *
 * - a timeout or a broken connection is tried again, with backoff, until
 *   `deadlineMs` has passed since the first attempt;
 * - an answer from the conductor (success, or a Nova exception such as
 *   UnexpectedTaskStateError) is final: the caller decides what it means,
 *   including "my earlier attempt, whose reply was lost, already did it".
 */
import { RemoteError } from '../../../oslo/failure';

export interface PersistOptions {
  deadlineMs: number;
  /** Told of each attempt that will be tried again. */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Checked before each wait: a stopping worker stops retrying. */
  stopped?: () => boolean;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
}

const FIRST_WAIT_MS = 500;
const MAX_WAIT_MS = 10_000;

/** Whether `err` may be tried again: the conductor never answered (timeout, lost connection, nothing listening). */
export function isTransient(err: unknown): boolean {
  return !(err instanceof RemoteError);
}

export async function persist<T>(attempt: (n: number) => Promise<T>, o: PersistOptions): Promise<T> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const giveUpAt = Date.now() + o.deadlineMs;
  let waitMs = FIRST_WAIT_MS;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isTransient(err) || Date.now() + waitMs > giveUpAt || o.stopped?.()) throw err;
      o.onRetry?.(err, n, waitMs);
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
    }
  }
}
