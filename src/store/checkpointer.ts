/**
 * The intent store's WAL checkpoints, off the worker's event loop.
 *
 * Why: with SQLite's automatic checkpoints (every 1,000 WAL pages), the
 * commit that crossed the mark copied the WAL into the database file and
 * synced it before returning, on the JS thread: measured on this project's
 * bench machine 15-18 ms, at the 99th percentile of group commits, ~30 % of
 * the store's time on the JS thread, and a stall every intent in flight
 * waited through (event-loop delay and the latency tail). Now the store's
 * own connection never checkpoints (`wal_autocheckpoint = 0`), and a thread
 * (checkpoint-thread.ts) with a second connection runs a PASSIVE checkpoint
 * every CHECKPOINT_INTERVAL_MS, which never blocks the worker's writes.
 * Durability is unchanged: commits still reach the WAL before they resolve
 * (synchronous=NORMAL), and the database file is synced at each checkpoint.
 *
 * If the thread cannot run (it failed to open the store, a checkpoint failed
 * for another reason than a busy lock, it exited), the store falls back to
 * SQLite's automatic checkpoints on its own connection, and `failure` says
 * why: slower, never unbounded WAL growth.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CheckpointThreadData, CheckpointThreadReport } from './checkpoint-thread';

/** Between checkpoints: ~2 MB of WAL at 1,000 intents/s, copied in ~2-3 ms on the thread. */
export const CHECKPOINT_INTERVAL_MS = 250;
/** SQLite's default, restored on the store's own connection when the thread is gone. */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 1000;
const THREAD_SCRIPT = path.join(__dirname, 'checkpoint-thread.js');

export interface CheckpointStats {
  checkpoints: number;
  frames: number;
  /** Time spent checkpointing on the thread (not the event loop's). */
  ms: number;
}

export class Checkpointer {
  private readonly worker: Worker;
  private stopped = false;
  /** Why the thread no longer checkpoints (the store fell back to automatic checkpoints). */
  failure: string | undefined;
  readonly stats: CheckpointStats = { checkpoints: 0, frames: 0, ms: 0 };

  /** `fallback` re-enables automatic checkpoints on the store's own connection; called at most once. */
  constructor(storePath: string, private readonly fallback: (why: string) => void, intervalMs = CHECKPOINT_INTERVAL_MS) {
    const data: CheckpointThreadData = { path: storePath, intervalMs };
    // The thread allocates next to nothing (one pragma a tick): small heaps keep its memory to its isolate's own.
    this.worker = new Worker(THREAD_SCRIPT, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8, stackSizeMb: 1 } });
    // The worker's stop closes the store; the thread must never be what keeps the process alive.
    this.worker.unref();
    this.worker.on('message', (r: CheckpointThreadReport) => {
      if (r.type === 'checkpoint') {
        this.stats.checkpoints++;
        this.stats.frames += r.frames;
        this.stats.ms += r.ms;
      } else if (r.type === 'failed') this.fail(r.message);
    });
    this.worker.on('error', (err) => this.fail(String(err)));
    this.worker.on('exit', (code) => this.fail(`checkpoint thread exited (code ${code})`));
  }

  /** End the thread; the store's close checkpoints what is left. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.worker.postMessage('stop');
  }

  private fail(why: string): void {
    if (this.stopped || this.failure !== undefined) return;
    this.failure = why;
    this.fallback(why);
    void this.worker.terminate();
  }
}
