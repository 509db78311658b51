/**
 * Deadlines and backoff shared by both transports. Every await on the
 * broker goes through withTimeout: amqplib leaves an RPC pending until the
 * connection is detected dead, which with heartbeats can take minutes.
 */
import { TransportError } from '../errors';

/**
 * Reject with a TransportError after `ms`. If the operation completes late,
 * `onLate` receives its value so a resource it created (a connection, a
 * channel) can be released instead of leaking.
 */
export function withTimeout<T>(op: Promise<T>, ms: number, what: string, onLate?: (value: T) => void): Promise<T> {
  if (!Number.isFinite(ms)) return op;
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new TransportError(`${what} timed out after ${ms} ms`, { operation: what, timeout_ms: ms }));
    }, Math.max(0, ms));
    op.then(
      (v) => {
        if (timedOut) {
          onLate?.(v);
          return;
        }
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        if (timedOut) return;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Exponential backoff with "equal jitter": the ceiling doubles from `minMs` up
 * to `maxMs`, and the delay is drawn from [ceiling/2, ceiling], so a fleet of
 * workers that lost the broker together does not come back in lockstep.
 */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A sleep that close() can cut short, so shutdown never waits out a backoff. */
export class Sleeper {
  private wakers = new Set<() => void>();
  private cancelled = false;

  /** Resolves true when the time elapsed, false when cancelled. */
  sleep(ms: number): Promise<boolean> {
    if (this.cancelled) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.wakers.delete(wake);
        resolve(true);
      }, ms);
      this.wakers.add(wake);
    });
  }

  cancel(): void {
    this.cancelled = true;
    for (const w of [...this.wakers]) w();
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The AMQP reply code amqplib attaches to channel/connection errors (e.g. 406), if any. */
export function amqpCode(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number') return err.code;
  return undefined;
}
