/**
 * A bounded in-memory map of recent outcomes by key (oldest forgotten
 * first): the answers of reads, which the intent store does not keep
 * (ledger.ts). It does not survive a restart; a read is harmless to run again.
 */

export class RecentOutcomes<T> {
  private readonly done = new Map<string, T>();
  constructor(private readonly capacity: number) {}

  lookup(id: string): T | undefined {
    return this.done.get(id);
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
