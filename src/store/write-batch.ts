/**
 * Group commit: writes queued in the same turn of the event loop are
 * committed together in one SQLite transaction, and each writer's promise
 * resolves only when that transaction has committed.
 *
 * Why: with journal_mode=WAL and synchronous=NORMAL a commit is an append to
 * the WAL file (no fsync), so it survives the process being killed; doing one
 * per message would still cost a transaction per write. Batching keeps the
 * guarantee ("started" is on disk before the driver is called, the outcome is
 * on disk before the ack) at a fraction of the cost, and adds at most one
 * setImmediate of latency.
 */

type Op = () => void;

export class WriteBatch {
  private ops: Op[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private closed = false;

  /** `commit` runs every queued op inside one transaction (better-sqlite3's db.transaction). */
  constructor(private readonly commit: (ops: readonly Op[]) => void) {}

  /** Queue a write; resolves once it is committed, rejects if the transaction failed. */
  write(op: Op): Promise<void> {
    if (this.closed) return Promise.reject(new Error('intent store is closed'));
    this.ops.push(op);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  /** Commit what is queued now (also used before close). */
  flush(): void {
    this.scheduled = false;
    const ops = this.ops;
    const waiters = this.waiters;
    if (ops.length === 0) return;
    this.ops = [];
    this.waiters = [];
    try {
      this.commit(ops);
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}
