/**
 * The driver's libvirt connections, kept open across a daemon that goes away.
 *
 * Before, a connection libvirtd had dropped (its restart, a keepalive
 * timeout) stayed in the pool, and every call on it failed "client socket is
 * closed" until the worker restarted. Now:
 * - each daemon connection (not the in-process test driver's) has libvirt's
 *   close callback and keepalive (KEEPALIVE_*), and a call that fails on a
 *   dead socket marks it lost too (connection.ts);
 * - a lost connection leaves the pool at once and is reopened in the
 *   background with backoff (RECONNECT_FIRST_MS doubling to
 *   RECONNECT_MAX_MS, any open that works resets it);
 * - pick() hands out only live connections; with none left it throws
 *   HYPERVISOR_UNAVAILABLE (retryable) at once instead of queueing on a dead
 *   socket;
 * - ready() is true while at least one connection is live; onReadyChange
 *   hears each change (the driver's readiness, for logs and callers), and
 *   onRegained hears every reopened connection (the driver asks its watches
 *   to re-list then).
 */
import { HypervisorUnavailable, IntentFailure } from '../../errors';
import { type Connection, isInProcessUri, openOne } from './connection';
import { onConnectionClosed } from './domain-events';

export const KEEPALIVE_INTERVAL_S = 5;
export const KEEPALIVE_COUNT = 3;
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 30_000;

export interface PoolHooks {
  /** The pool went from no live connection to some (true) or the reverse (false); `why` says what happened. */
  onReadyChange?: ((ready: boolean, why: string) => void) | undefined;
  /** A lost connection was replaced. */
  onRegained?: (() => void) | undefined;
}

interface Slot {
  conn: Connection | undefined;
  /** Ends the close callback of `conn`. */
  unwatch: () => Promise<void>;
}

/** Close callback and keepalive on a daemon connection; lost → `onLost`. */
async function guard(c: Connection): Promise<() => Promise<void>> {
  if (isInProcessUri(c.uri)) return async () => {};
  const unwatch = await onConnectionClosed(c, (reason) => c.markLost(`libvirt closed the connection, reason ${reason}`));
  try {
    await c.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
  } catch (err) {
    await unwatch();
    throw err;
  }
  return unwatch;
}

export class ConnectionPool {
  private next = 0;
  private readonly slots: Slot[];
  private wasReady = true;
  private reconnecting: Promise<void> | undefined;
  private closed = false;
  /** Cuts a reconnect backoff short when the pool closes. */
  private wake: () => void = () => {};

  private constructor(
    readonly uri: string,
    slots: Slot[],
    private readonly hooks: PoolHooks,
  ) {
    this.slots = slots;
    for (const s of slots) if (s.conn) this.watch(s.conn);
  }

  /** `size` connections to `uri`; none are left open if any open fails. */
  static async open(uri: string, size: number, hooks: PoolHooks = {}): Promise<ConnectionPool> {
    const slots: Slot[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const slot: Slot = { conn: await openOne(uri), unwatch: async () => {} };
        slots.push(slot);
        if (slot.conn) slot.unwatch = await guard(slot.conn);
      }
    } catch (err) {
      await Promise.allSettled(slots.map(async (s) => {
        await s.unwatch();
        await s.conn?.close();
      }));
      throw err;
    }
    return new ConnectionPool(uri, slots, hooks);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Connections live now. */
  get live(): number {
    return this.slots.filter((s) => s.conn !== undefined && !s.conn.lost).length;
  }

  /** At least one connection is live. */
  ready(): boolean {
    return this.live > 0;
  }

  /** The least busy live connection (round robin among equals); HYPERVISOR_UNAVAILABLE when none is live. */
  pick(): Connection {
    if (this.closed) throw new IntentFailure('INTERNAL', 'libvirt connection pool is closed');
    let best: Connection | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const c = this.slots[(this.next + i) % this.slots.length]?.conn;
      if (c && !c.lost && (!best || c.pending < best.pending)) best = c;
    }
    this.next = (this.next + 1) % this.slots.length;
    if (!best) throw new HypervisorUnavailable(`no libvirt connection to ${this.uri}: the daemon is gone or restarting; reconnecting`, { uri: this.uri });
    return best;
  }

  private watch(c: Connection): void {
    c.onLost = (lost, why) => this.lose(lost, why);
  }

  /** Take a lost connection out, free it, and reopen in the background. */
  private lose(c: Connection, why: string): void {
    const slot = this.slots.find((s) => s.conn === c);
    if (!slot || this.closed) return;
    slot.conn = undefined;
    const unwatch = slot.unwatch;
    slot.unwatch = async () => {};
    void unwatch().then(() => c.close()).catch(() => undefined);
    this.readiness(why);
    this.reconnecting ??= this.reconnect().finally(() => {
      this.reconnecting = undefined;
    });
  }

  private readiness(why: string): void {
    const ready = this.ready();
    if (ready === this.wasReady) return;
    this.wasReady = ready;
    try {
      this.hooks.onReadyChange?.(ready, why);
    } catch {
      // A hook's own failure must not stop the reconnection.
    }
  }

  private async reconnect(): Promise<void> {
    let delay = RECONNECT_FIRST_MS;
    while (!this.closed && this.slots.some((s) => s.conn === undefined)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      let regained = false;
      for (const slot of this.slots) {
        if (slot.conn !== undefined || this.closed) continue;
        try {
          const conn = await openOne(this.uri);
          let unwatch: () => Promise<void>;
          try {
            unwatch = await guard(conn);
          } catch (err) {
            await conn.close().catch(() => undefined);
            throw err;
          }
          if (this.closed) {
            await unwatch();
            await conn.close().catch(() => undefined);
            return;
          }
          slot.conn = conn;
          slot.unwatch = unwatch;
          this.watch(conn);
          regained = true;
        } catch {
          // The daemon is still away: the next round, after a longer pause.
          break;
        }
      }
      if (regained) {
        delay = RECONNECT_FIRST_MS;
        this.readiness('reconnected');
        try {
          this.hooks.onRegained?.();
        } catch {
          // as above
        }
      } else {
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      }
    }
  }

  /** Close every connection after its queued calls; the references each still held. */
  async close(): Promise<number[]> {
    this.closed = true;
    this.wake();
    await this.reconnecting;
    return Promise.all(
      this.slots.map(async (s) => {
        const c = s.conn;
        s.conn = undefined;
        await s.unwatch();
        return c ? c.close() : 0;
      }),
    );
  }
}
