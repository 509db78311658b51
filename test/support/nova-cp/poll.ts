/**
 * Bounded polling: the Nova and Placement APIs have no event to await (a
 * server's state is a database row the compute host updates through the
 * conductor), so the harness asks again every `intervalMs` until the
 * deadline, and says what it last saw when the deadline passes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ControlPlaneError } from './errors';

export interface PollOptions {
  timeoutMs: number;
  /** Between two probes; the figures of the benchmark are as fine as this. */
  intervalMs?: number;
}

/** The awaited value, or "not yet" with what was seen instead. */
export type Probe<T> = () => Promise<{ done: true; value: T } | { done: false; seen: string }>;

export async function pollUntil<T>(what: string, probe: Probe<T>, opts: PollOptions): Promise<T> {
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + opts.timeoutMs;
  let seen = 'nothing yet';
  for (;;) {
    const r = await probe();
    if (r.done) return r.value;
    seen = r.seen;
    if (Date.now() + interval > deadline) {
      throw new ControlPlaneError('WAIT_TIMEOUT', `${what}: not within ${opts.timeoutMs} ms; last seen: ${seen}`);
    }
    await delay(interval);
  }
}
