/**
 * Lines about intents that wait (oslo.log habit: Nova logs a lock wait and
 * its length): one when an intent starts waiting — for its lanes or a slot
 * in the serializer, for its ports' port.ready — and one every `everyMs`
 * while it still waits, so a stuck host shows in its log what it waits for
 * and behind whom, without anyone asking.
 *
 * Cost: a waiting intent costs one small record in a set; one timer (unref'd,
 * running only while something waits) checks the set once a second and
 * logs those due. What a line says (`detail`) is computed only when it is
 * written.
 */
import type { Logger } from '../log';

export type WaitLevel = 'debug' | 'info';

interface Wait {
  readonly log: Logger;
  readonly what: string;
  readonly detail: () => Record<string, unknown>;
  readonly since: number;
  next: number;
}

/** Ends a wait (idempotent). */
export type EndWait = () => void;

const TICK_MS = 1000;
const ended: EndWait = () => undefined;

export class WaitWatch {
  private readonly waits = new Set<Wait>();
  private timer: NodeJS.Timeout | undefined;

  /** `everyMs` 0: only the first line. */
  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * An intent starts waiting: `what` is logged now at `level` (with the
   * detail), then at info every `everyMs` with the seconds waited so far.
   */
  begin(log: Logger, level: WaitLevel, what: string, detail: () => Record<string, unknown>): EndWait {
    if (log.isLevelEnabled(level)) log.log(level, what, detail());
    if (this.everyMs <= 0) return ended;
    const since = this.now();
    const w: Wait = { log, what, detail, since, next: since + this.everyMs };
    this.waits.add(w);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), Math.min(TICK_MS, this.everyMs));
      this.timer.unref();
    }
    return () => this.end(w);
  }

  /** Intents waiting now. */
  get size(): number {
    return this.waits.size;
  }

  stop(): void {
    this.waits.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private end(w: Wait): void {
    if (!this.waits.delete(w) || this.waits.size > 0) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Log the waits that are due; a detail that throws is logged without it. */
  tick(): void {
    const t = this.now();
    for (const w of this.waits) {
      if (w.next > t) continue;
      w.next = t + this.everyMs;
      let detail: Record<string, unknown>;
      try {
        detail = w.detail();
      } catch (err) {
        detail = { detail_error: String(err) };
      }
      w.log.info(`still ${w.what}`, { ...detail, waited_s: Math.round((t - w.since) / 1000) });
    }
  }
}
