/**
 * Everything that came (events, changes), kept in order; waitFor() resolves
 * with the first that matches, whether it came already or is still to come.
 * No polling: each arrival is matched against the waits as it comes.
 */
export class Seen<T> {
  readonly items: T[] = [];
  private waits: { match: (x: T) => boolean; resolve: (x: T) => void }[] = [];

  push(x: T): void {
    this.items.push(x);
    this.waits = this.waits.filter((w) => {
      if (!w.match(x)) return true;
      w.resolve(x);
      return false;
    });
  }

  /** Fails after `timeoutMs` with the message `missing()` gives (said then, so it can list what came). */
  waitFor(match: (x: T) => boolean, timeoutMs: number, missing: () => string): Promise<T> {
    const already = this.items.find(match);
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const wait = {
        match,
        resolve: (x: T) => {
          clearTimeout(timer);
          resolve(x);
        },
      };
      const timer = setTimeout(() => {
        this.waits = this.waits.filter((w) => w !== wait);
        reject(new Error(missing()));
      }, timeoutMs);
      this.waits.push(wait);
    });
  }
}
