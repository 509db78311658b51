/**
 * One start at a time: callers that arrive while it runs share its promise
 * (and so the first caller's deadline); the next call after it settled
 * starts again. For opening a publish channel (0-9-1) or session (1.0).
 */
export class SingleFlight<T> {
  private pending: Promise<T> | undefined;

  run(start: () => Promise<T>): Promise<T> {
    if (!this.pending) {
      this.pending = start().finally(() => {
        this.pending = undefined;
      });
    }
    return this.pending;
  }
}
