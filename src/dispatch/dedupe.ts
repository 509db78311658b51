/**
 * Recent intent outcomes by intent id, so a redelivered or re-sent intent is
 * answered with its recorded outcome instead of being applied again.
 * In memory and bounded (oldest forgotten first); it does not survive a
 * restart. A duplicate that arrives while the original still runs waits for
 * the original's outcome.
 */

export class RecentOutcomes<T> {
  private readonly done = new Map<string, T>();
  private readonly running = new Map<string, Promise<T>>();
  constructor(private readonly capacity: number) {}

  /** The outcome recorded for this id, or the running original's, or undefined. */
  lookup(id: string): T | Promise<T> | undefined {
    return this.done.get(id) ?? this.running.get(id);
  }

  /** Track the original while it runs; record its outcome when it settles. */
  track(id: string, outcome: Promise<T>): void {
    this.running.set(id, outcome);
    outcome.then(
      (o) => {
        this.running.delete(id);
        this.record(id, o);
      },
      () => this.running.delete(id),
    );
  }

  record(id: string, outcome: T): void {
    if (this.capacity === 0) return;
    this.done.delete(id);
    this.done.set(id, outcome);
    if (this.done.size > this.capacity) {
      const oldest = this.done.keys().next().value;
      if (oldest !== undefined) this.done.delete(oldest);
    }
  }

  get size(): number {
    return this.done.size;
  }
}
