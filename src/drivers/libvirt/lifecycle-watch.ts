/**
 * Driver.watch() on libvirt: lifecycle events on a dedicated connection, a
 * slow reconciliation listing on the same connection, and reconnection, all
 * judged by power-state-tracker.ts.
 *
 * - Events: virConnectDomainEventRegisterAny(VIR_DOMAIN_EVENT_ID_LIFECYCLE)
 *   for every domain. libvirt 9.0's test driver sends them for define,
 *   start, suspend, resume, shutdown, managed save, destroy and undefine, but
 *   none for reboot or reset; over libvirtd the same (measured).
 * - Reconciliation every reconcileIntervalMs: events can be missed (a daemon
 *   restart, a driver that sends none). Listing all guests costs ~7 ms per
 *   1,000 (docs/libvirt.md#events).
 * - A lost connection (libvirt's close callback: daemon gone, or 3 missed
 *   keepalives 5 s apart) or a failed listing: the connection is dropped and
 *   reopened with backoff (0.5 s doubling to 30 s), at once when the
 *   driver's own pool got the daemon back (poke); once back, events are
 *   registered again and a listing reports whatever changed meanwhile
 *   (reason `reconnect`).
 * - The dedicated connection keeps events and listings off the pool's
 *   connections, so busy intents neither delay nor are delayed by them.
 */
import type { GuestChange, GuestState, GuestWatch, WatchHooks } from '../driver';
import { asHostwallError, IntentFailure } from '../../errors';
import { type Connection, openOne } from './connection';
import { subscribe } from './domain-events';
import { guestState, listGuests } from './guest-state';
import { lifecycleReason } from './lifecycle-reason';
import { KEEPALIVE_COUNT, KEEPALIVE_INTERVAL_S, RECONNECT_FIRST_MS, RECONNECT_MAX_MS } from './pool';
import { type CallOutcome, PowerStateTracker, realClock } from './power-state-tracker';

export interface WatchSettings {
  /** false: listings only, no libvirt events (a fallback should events misbehave on a host). */
  events: boolean;
  /** ms between reconciliation listings; 0 turns them off. */
  reconcileIntervalMs: number;
  /** ms a guest seen shut down is held before it is reported. */
  stopDelayMs: number;
}

interface Live {
  conn: Connection;
  unsubscribe: () => Promise<void>;
}

export class LifecycleWatch implements GuestWatch {
  readonly ready: Promise<GuestState[]>;
  private readonly tracker: PowerStateTracker;
  private live: Live | undefined;
  /** The connect, reconnect or listing under way: stop() waits for it. */
  private busy: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private reconnecting = false;
  /** Resolves when stop() begins: cuts a reconnect backoff short. */
  private readonly stopSignal: Promise<void>;
  private signalStop: () => void = () => {};
  /** Ends the current reconnect backoff early (poke). */
  private cutWait: () => void = () => {};

  constructor(
    private readonly uri: string,
    private readonly settings: WatchSettings,
    private readonly listener: (change: GuestChange) => void,
    private readonly hooks: WatchHooks,
    /** Told when the watch has stopped (the driver forgets it). */
    private readonly onStopped: () => void,
  ) {
    this.tracker = new PowerStateTracker({
      read: (uuid) => this.read(uuid),
      emit: (change) => this.emit(change),
      // While reconnecting, reads fail by design; the reconnect's listing covers them.
      failed: (err) => {
        if (this.live) this.report(err);
      },
      clock: realClock,
      stopDelayMs: settings.stopDelayMs,
    });
    this.stopSignal = new Promise((resolve) => {
      this.signalStop = resolve;
    });
    this.ready = this.serially(async () => {
      const live = await this.connect();
      const mark = this.tracker.mark();
      const guests = await listGuests(live.conn);
      this.tracker.seed(mark, guests);
      this.schedule();
      return guests;
    });
    this.ready.catch((err: unknown) => {
      this.report(err);
      this.reconnect();
    });
  }

  /** A driver call on `uuid` starts; its outcome is the baseline (power-state-tracker.ts). */
  begin(uuid: string): void {
    this.tracker.begin(uuid);
  }

  end(uuid: string, outcome: CallOutcome): void {
    this.tracker.end(uuid, outcome);
  }

  /**
   * The driver got its own connections back after losing them: if this watch
   * is still waiting to reconnect, try now rather than at the end of its
   * backoff; if its connection was found lost, reconnect.
   */
  poke(): void {
    if (this.stopping) return;
    if (this.reconnecting) this.cutWait();
    else if (this.live?.conn.lost) this.reconnect();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.signalStop();
      this.tracker.stop();
      if (this.timer) clearTimeout(this.timer);
      await this.busy;
      await this.drop();
      this.onStopped();
    })();
    return this.stopping;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const p = this.busy.then(work, work);
    this.busy = p.catch(() => undefined);
    return p;
  }

  private async connect(): Promise<Live> {
    if (this.stopping) throw new IntentFailure('INTERNAL', 'the watch is stopped');
    const conn = await openOne(this.uri);
    try {
      let unsubscribe = async () => {};
      if (this.settings.events) {
        unsubscribe = await subscribe(
          conn,
          (e) => this.tracker.event(e.uuid, lifecycleReason(e.event, e.detail)),
          (reason) => {
            this.report(new IntentFailure('LIBVIRT_ERROR', `libvirt connection to ${this.uri} lost (close reason ${reason})`));
            this.reconnect();
          },
        );
      }
      this.live = { conn, unsubscribe };
      await conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
      return this.live;
    } catch (err) {
      this.live = undefined;
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  private async drop(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    if (!live) return;
    await live.unsubscribe();
    await live.conn.close().catch(() => undefined);
  }

  private async read(uuid: string): Promise<GuestState | undefined> {
    const conn = this.live?.conn;
    if (!conn) throw new IntentFailure('LIBVIRT_ERROR', `no libvirt connection to ${this.uri} (reconnecting)`);
    const dom = await conn.findDomain(uuid);
    if (!dom) return undefined;
    try {
      return await guestState(conn, dom);
    } catch (err) {
      // Gone between lookup and state read.
      if (err instanceof IntentFailure && err.code === 'INSTANCE_NOT_FOUND') return undefined;
      throw err;
    } finally {
      conn.freeDomain(dom);
    }
  }

  private schedule(): void {
    if (this.stopping || this.settings.reconcileIntervalMs <= 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reconcile(), this.settings.reconcileIntervalMs).unref();
  }

  private async reconcile(): Promise<void> {
    await this.serially(async () => {
      const conn = this.live?.conn;
      if (!conn || this.stopping) return;
      const mark = this.tracker.mark();
      this.tracker.listing(mark, await listGuests(conn), 'reconcile');
    }).catch((err: unknown) => {
      this.report(err);
      this.reconnect();
    });
    this.schedule();
  }

  /** Drop the connection and open another until it works or the watch stops. */
  private reconnect(): void {
    if (this.reconnecting || this.stopping) return;
    this.reconnecting = true;
    void this.serially(async () => {
      await this.drop();
      for (let delay = RECONNECT_FIRST_MS; !this.stopping; delay = Math.min(delay * 2, RECONNECT_MAX_MS)) {
        let timer: NodeJS.Timeout | undefined;
        const poked = new Promise<void>((r) => {
          this.cutWait = r;
        });
        await Promise.race([new Promise((r) => (timer = setTimeout(r, delay))), this.stopSignal, poked]);
        clearTimeout(timer);
        if (this.stopping) return;
        try {
          const live = await this.connect();
          const mark = this.tracker.mark();
          const guests = await listGuests(live.conn);
          // Never seeded (the first attempt failed): this listing is the starting point.
          if (this.tracker.seeded) this.tracker.listing(mark, guests, 'reconnect');
          else this.tracker.seed(mark, guests);
          this.schedule();
          return;
        } catch (err) {
          this.report(err);
          await this.drop();
        }
      }
    })
      .catch((err: unknown) => this.report(err))
      .finally(() => {
        this.reconnecting = false;
      });
  }

  private emit(change: GuestChange): void {
    try {
      this.listener(change);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    if (this.stopping) return;
    try {
      this.hooks.onError?.(asHostwallError(err));
    } catch {
      // The error hook's own failure has nowhere left to go.
    }
  }
}
