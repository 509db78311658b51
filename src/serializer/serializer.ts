/**
 * The serialized driver layer's scheduler: per-key FIFO lanes under a global cap
 * (kubelet's pod workers, Nova's per-instance lock plus build semaphore).
 *
 * Contract:
 * - A job names its lock keys when it is submitted; submission order is its
 *   place in every lane it joins. Jobs sharing a key run strictly in that order
 *   and never overlap. Jobs with disjoint keys run concurrently.
 * - A job starts only when it heads every one of its lanes. Because all lanes
 *   are joined at once, in one total order, a job can only wait for jobs
 *   submitted before it: multi-key jobs cannot deadlock.
 * - `capped` jobs count against `concurrency`; when slots are scarce, the
 *   oldest ready job goes first. Uncapped jobs (signals, reads) start as soon
 *   as they head their lanes: a spawn that holds a slot while it waits for a
 *   port.ready must not starve the very signal it waits for.
 */

export interface JobSpec {
  readonly id: string;
  readonly keys: readonly string[];
  readonly capped: boolean;
}

interface Job extends JobSpec {
  readonly seq: number;
  readonly run: () => void;
}

export interface SerializerOptions {
  /** Capped jobs running at once (Nova's max_concurrent_builds is 10). */
  concurrency: number;
  /** Test seam: called as a job starts, before its function runs. */
  onStart?: (spec: JobSpec) => void;
}

export interface SerializerStats {
  running: number;
  cappedRunning: number;
  waiting: number;
  lanes: number;
}

/** Min-heap on submission order: the ready jobs that wait only for a slot. */
class ReadyHeap {
  private readonly items: Job[] = [];
  get size(): number {
    return this.items.length;
  }
  push(job: Job): void {
    const a = this.items;
    a.push(job);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p];
      const cur = a[i];
      if (!parent || !cur || parent.seq <= cur.seq) break;
      a[p] = cur;
      a[i] = parent;
      i = p;
    }
  }
  pop(): Job | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const lj = a[l];
        const rj = a[r];
        const mj = a[m];
        if (lj && mj && lj.seq < mj.seq) m = l;
        const mj2 = a[m];
        if (rj && mj2 && rj.seq < mj2.seq) m = r;
        if (m === i) break;
        const x = a[i];
        const y = a[m];
        if (!x || !y) break;
        a[i] = y;
        a[m] = x;
        i = m;
      }
    }
    return top;
  }
}

export class Serializer {
  private readonly lanes = new Map<string, Job[]>();
  private readonly ready = new ReadyHeap();
  private readonly opts: SerializerOptions;
  private seq = 0;
  private running = 0;
  private cappedRunning = 0;
  private waiting = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: SerializerOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${opts.concurrency}`);
    }
    this.opts = opts;
  }

  /** Queue `fn` behind every earlier job sharing a key; resolves with its result. */
  run<T>(spec: JobSpec, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        id: spec.id,
        keys: [...new Set(spec.keys)],
        capped: spec.capped,
        seq: this.seq++,
        run: () => {
          this.opts.onStart?.(spec);
          let p: Promise<T>;
          try {
            p = fn();
          } catch (err) {
            p = Promise.reject(err);
          }
          p.then(resolve, reject).finally(() => this.finish(job));
        },
      };
      this.waiting++;
      for (const key of job.keys) {
        const lane = this.lanes.get(key);
        if (lane) lane.push(job);
        else this.lanes.set(key, [job]);
      }
      if (this.headsAllLanes(job)) this.becomeReady(job);
    });
  }

  stats(): SerializerStats {
    return { running: this.running, cappedRunning: this.cappedRunning, waiting: this.waiting, lanes: this.lanes.size };
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private headsAllLanes(job: Job): boolean {
    return job.keys.every((k) => this.lanes.get(k)?.[0] === job);
  }

  private becomeReady(job: Job): void {
    if (!job.capped) {
      this.start(job);
      return;
    }
    this.ready.push(job);
    this.fillSlots();
  }

  private fillSlots(): void {
    while (this.cappedRunning < this.opts.concurrency && this.ready.size > 0) {
      const job = this.ready.pop();
      if (job) this.start(job);
    }
  }

  private start(job: Job): void {
    this.waiting--;
    this.running++;
    if (job.capped) this.cappedRunning++;
    job.run();
  }

  private finish(job: Job): void {
    this.running--;
    if (job.capped) this.cappedRunning--;
    const next: Job[] = [];
    for (const key of job.keys) {
      const lane = this.lanes.get(key);
      if (!lane) continue;
      lane.shift();
      const head = lane[0];
      if (head) next.push(head);
      else this.lanes.delete(key);
    }
    // A multi-key head may appear in several lanes; start it once.
    for (const head of new Set(next)) {
      if (this.headsAllLanes(head)) this.becomeReady(head);
    }
    this.fillSlots();
    if (this.running === 0 && this.waiting === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
