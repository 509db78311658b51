/**
 * Waiting for a state that no event announces (a queue's depth, a file the
 * worker writes, a reply from a worker still starting): ask again every
 * `intervalMs` until the answer is the one awaited, and when the deadline
 * passes, fail naming what was awaited and what was last seen. Where an
 * event can be awaited (an Inbox, an EventLog), await it instead.
 */
import { inspect } from 'node:util';

export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/** What the default `done` accepts: an answer at all. */
type Answer<T> = Exclude<T, undefined | null | false>;

const answered = <T>(v: T): v is Answer<T> => v !== undefined && v !== null && v !== false;

/**
 * Calls `probe` until `done` accepts its answer (without `done`: until it
 * answers anything but undefined, null or false) and resolves with that
 * answer. A probe that throws counts as "not yet"; its error is what the
 * timeout reports.
 */
export function eventually<T>(what: string, probe: () => T | Promise<T>, done?: undefined, opts?: EventuallyOptions): Promise<Answer<T>>;
export function eventually<T>(what: string, probe: () => T | Promise<T>, done: (value: T) => boolean, opts?: EventuallyOptions): Promise<T>;
export async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  done: ((value: T) => boolean) | undefined,
  opts: EventuallyOptions = {},
): Promise<T> {
  const accept = done ?? answered;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = inspect(value, { depth: 4, breakLength: Infinity });
    } catch (err) {
      last = `an error: ${String(err)}`;
    }
    if (Date.now() + intervalMs > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last seen: ${last.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
