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
 * - A capped job may also name a `group` with a limit of its own (builds:
 *   Nova's max_concurrent_builds inside its executor_thread_pool_size), so
 *   spawns waiting minutes for their ports cannot take every slot from
 *   power operations. The oldest ready job whose group has room goes first.
 * - A capped job may give its slot back before it ends (`release`, passed to
 *   its function) while keeping its lanes: the slot bounds work on the host,
 *   and what follows that work (committing the outcome to disk) needs only
 *   the order, not a slot.
 */

export interface JobSpec {
  readonly id: string;
  readonly keys: readonly string[];
  readonly capped: boolean;
  /** Of a capped job: a group whose own limit (SerializerOptions.groups) it also counts against. */
  readonly group?: string;
}

interface Job extends JobSpec {
  readonly seq: number;
  readonly run: () => void;
  /** Counted in cappedRunning until it ends or gives its slot back. */
  holdsSlot: boolean;
}

/** Gives a capped job's slot back early (idempotent; nothing for an uncapped job). */
export type ReleaseSlot = () => void;

export interface SerializerOptions {
  /** Capped jobs running at once (oslo.messaging's executor_thread_pool_size is 64). */
  concurrency: number;
  /** Capped jobs of a group running at once, within `concurrency` (a group not named here has no limit of its own). */
  groups?: Readonly<Record<string, number>>;
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
  peek(): Job | undefined {
    return this.items[0];
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
  /** Ready capped jobs by group ('' for none). */
  private readonly ready = new Map<string, ReadyHeap>();
  private readonly groupRunning = new Map<string, number>();
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
    for (const [g, n] of Object.entries(opts.groups ?? {})) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`limit of group ${g} must be an integer >= 1, got ${n}`);
    }
    this.opts = opts;
  }

  /** Queue `fn` behind every earlier job sharing a key; resolves with its result. */
  run<T>(spec: JobSpec, fn: (release: ReleaseSlot) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        id: spec.id,
        keys: [...new Set(spec.keys)],
        capped: spec.capped,
        group: spec.group,
        seq: this.seq++,
        holdsSlot: false,
        run: () => {
          this.opts.onStart?.(spec);
          let p: Promise<T>;
          try {
            p = fn(() => this.releaseSlot(job));
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

  /**
   * For logs about a waiting job: the ids of the jobs at the head of its
   * lanes (the ones it waits behind); empty when it heads every lane and
   * waits for a slot.
   */
  ahead(id: string, keys: readonly string[]): string[] {
    const out: string[] = [];
    for (const key of keys) {
      const head = this.lanes.get(key)?.[0];
      if (head && head.id !== id && !out.includes(head.id)) out.push(head.id);
    }
    return out;
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
    const key = job.group ?? '';
    let heap = this.ready.get(key);
    if (!heap) {
      heap = new ReadyHeap();
      this.ready.set(key, heap);
    }
    heap.push(job);
    this.fillSlots();
  }

  private hasRoom(group: string): boolean {
    const limit = this.opts.groups?.[group];
    return limit === undefined || (this.groupRunning.get(group) ?? 0) < limit;
  }

  /** The oldest ready job whose group has room (few groups: a scan of the heads). */
  private nextReady(): ReadyHeap | undefined {
    let best: ReadyHeap | undefined;
    let bestSeq = Number.POSITIVE_INFINITY;
    for (const [group, heap] of this.ready) {
      const head = heap.peek();
      if (head && head.seq < bestSeq && this.hasRoom(group)) {
        best = heap;
        bestSeq = head.seq;
      }
    }
    return best;
  }

  private fillSlots(): void {
    while (this.cappedRunning < this.opts.concurrency) {
      const job = this.nextReady()?.pop();
      if (!job) return;
      this.start(job);
    }
  }

  private takeSlot(job: Job): void {
    job.holdsSlot = true;
    this.cappedRunning++;
    if (job.group !== undefined) this.groupRunning.set(job.group, (this.groupRunning.get(job.group) ?? 0) + 1);
  }

  /** Returns the job's slot (and its group's); false if it held none. */
  private dropSlot(job: Job): boolean {
    if (!job.holdsSlot) return false;
    job.holdsSlot = false;
    this.cappedRunning--;
    if (job.group !== undefined) this.groupRunning.set(job.group, (this.groupRunning.get(job.group) ?? 1) - 1);
    return true;
  }

  private start(job: Job): void {
    this.waiting--;
    this.running++;
    if (job.capped) this.takeSlot(job);
    job.run();
  }

  private releaseSlot(job: Job): void {
    if (this.dropSlot(job)) this.fillSlots();
  }

  private finish(job: Job): void {
    this.running--;
    this.dropSlot(job);
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
