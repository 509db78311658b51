/**
 * The port-ready handshake, inside the wall (docs/design.md#identity-and-scheduling, Nova's
 * wait_for_instance_event without its lost-early-event bug).
 *
 * A spawn registers what it waits for; Neutron's port.ready wakes it. A
 * port.ready that nobody waits for yet is remembered for `memoryMs` (it may
 * arrive before the spawn does), and a later wait consumes it.
 */

export type PortStatus = 'completed' | 'failed';

export interface PortWaitResult {
  completed: string[];
  failed: string[];
  /** Ports with no word before the deadline. */
  missing: string[];
}

interface Waiter {
  pending: Set<string>;
  result: PortWaitResult;
  resolve: (r: PortWaitResult) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface PortReadinessOptions {
  memoryMs: number;
  /** Remembered signals kept at most (oldest dropped first, and logged by the caller). */
  maxRemembered?: number;
  now?: () => number;
}

export class PortReadiness {
  private readonly remembered = new Map<string, { status: PortStatus; at: number }>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly opts: Required<PortReadinessOptions>;

  constructor(opts: PortReadinessOptions) {
    this.opts = { maxRemembered: 100_000, now: Date.now, ...opts };
  }

  /** Neutron says the port is wired (or failed). True when a waiting spawn took it. */
  signal(portId: string, status: PortStatus): boolean {
    const w = this.waiters.get(portId);
    if (w) {
      this.settlePort(w, portId, status);
      return true;
    }
    this.sweep();
    this.remembered.delete(portId);
    this.remembered.set(portId, { status, at: this.opts.now() });
    if (this.remembered.size > this.opts.maxRemembered) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
    return false;
  }

  /**
   * Wait until every port has been signalled, or `timeoutMs` passes. Signals
   * remembered from before count (and are consumed). Resolves, never rejects:
   * the caller decides what a failed or missing port means.
   */
  wait(portIds: readonly string[], timeoutMs: number): Promise<PortWaitResult> {
    this.sweep();
    const result: PortWaitResult = { completed: [], failed: [], missing: [] };
    const pending = new Set<string>();
    for (const id of new Set(portIds)) {
      const early = this.remembered.get(id);
      if (early) {
        this.remembered.delete(id);
        (early.status === 'completed' ? result.completed : result.failed).push(id);
      } else if (this.waiters.has(id)) {
        // Another guest already waits for this port: a port serves one guest.
        result.failed.push(id);
      } else {
        pending.add(id);
      }
    }
    if (pending.size === 0) return Promise.resolve(result);
    return new Promise((resolve) => {
      const w: Waiter = { pending, result, resolve, timer: undefined };
      for (const id of pending) this.waiters.set(id, w);
      w.timer = setTimeout(() => this.expire(w), timeoutMs);
    });
  }

  /** Stop waiting for these ports (the spawn was abandoned). */
  cancel(portIds: readonly string[]): void {
    for (const id of portIds) {
      const w = this.waiters.get(id);
      if (w) this.expire(w);
    }
  }

  /** Of these ports, those a spawn still waits for (for its log lines). */
  stillAwaited(portIds: readonly string[]): string[] {
    return portIds.filter((id) => this.waiters.has(id));
  }

  rememberedCount(): number {
    this.sweep();
    return this.remembered.size;
  }

  private settlePort(w: Waiter, portId: string, status: PortStatus): void {
    if (!w.pending.delete(portId)) return;
    this.waiters.delete(portId);
    (status === 'completed' ? w.result.completed : w.result.failed).push(portId);
    if (w.pending.size === 0) this.finish(w);
  }

  private expire(w: Waiter): void {
    for (const id of w.pending) {
      this.waiters.delete(id);
      w.result.missing.push(id);
    }
    w.pending.clear();
    this.finish(w);
  }

  private finish(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    w.resolve(w.result);
  }

  private sweep(): void {
    const cutoff = this.opts.now() - this.opts.memoryMs;
    // Map iteration is insertion order, and every insert is "now": stop at the first young one.
    for (const [id, s] of this.remembered) {
      if (s.at >= cutoff) break;
      this.remembered.delete(id);
    }
  }
}
