/**
 * How a wait loop hears that the worker is stopping: an AbortSignal the
 * worker aborts when its grace period is over (worker.ts stop()). A wait cut
 * short rejects with StoppingError, never an outcome (errors.ts says why).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StoppingError } from '../errors';

/** Throws StoppingError if `signal` has aborted. */
export function throwIfStopping(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new StoppingError(`${what}: cut short, the worker is stopping`);
}

/** Sleep `ms`, or reject with StoppingError as soon as `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  throwIfStopping(signal, what);
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    throwIfStopping(signal, what);
    throw err;
  }
}

/** `wait`, or StoppingError as soon as `signal` aborts (the wait itself is left to end on its own). */
export async function unlessStopping<T>(wait: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return wait;
  throwIfStopping(signal, what);
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(new StoppingError(`${what}: cut short, the worker is stopping`));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([wait, stopped]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
