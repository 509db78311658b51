/**
 * Which guest power-state changes to report, and when: the logic of Nova's
 * lifecycle-event handling and power-state sync, without libvirt (the watch
 * in lifecycle-watch.ts feeds it; tests feed it by hand with a fake clock).
 *
 * The baseline is, per guest, the state the listener last learnt: from the
 * watch's starting listing, from a change reported, or from the result of a
 * driver call on that guest (the caller publishes that one itself). A change
 * is reported when the hypervisor's state differs from the baseline:
 * - An event is only a reason to look: the state is read again and compared
 *   (Nova too ignores an event the current state contradicts), so late,
 *   duplicate or missed intermediate events do no harm. Except an event that
 *   can only leave the guest in the state the baseline already holds (a boot
 *   when it is known running, a shutdown or destroy when it is known shut
 *   down): the read could only agree, so it is not made. These are mostly the
 *   events of the driver's own calls, which libvirt delivers after the call
 *   has returned; a later change sends its own event. Likewise after a call
 *   during which only events came, the last of which leaves the guest in the
 *   state the call found (libvirt delivers a connection's events in order).
 *   An event while a look is pending or a shutdown is held takes the usual path.
 * - While a driver call on the guest runs, looks wait for it to end; the
 *   call's result becomes the baseline, then the guest is read once more if
 *   an event came meanwhile or the call failed. So what the driver itself did
 *   is not reported, and a change behind its back during the call still is.
 * - A guest seen shut down is held for stopDelayMs and read again, reported
 *   only if still different (Nova holds Stopped events 15 s so that a reboot
 *   done as stop-then-start does not look like a shutdown). Any newer event
 *   for the guest restarts the look, as Nova cancels a held event.
 * - A listing (the periodic reconciliation) compares every guest, skipping
 *   any touched since the listing began (its newer look decides), and
 *   reports guests that vanished as not existing.
 */
import type { GuestChange, GuestState } from '../driver';

export interface TrackerClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: TrackerClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface TrackerDeps {
  /** The guest's state now; undefined when the hypervisor has no such guest. */
  read(uuid: string): Promise<GuestState | undefined>;
  emit(change: GuestChange): void;
  /** A read failed: the guest is looked at again by the next listing. */
  failed(err: unknown): void;
  clock: TrackerClock;
  stopDelayMs: number;
}

/** What a driver call leaves the guest as, for the baseline. */
export type CallOutcome = { state: GuestState } | { gone: true } | { unchanged: true; failed: boolean };

interface Known {
  power_state: GuestState['power_state'];
  name: string;
}

interface Entry {
  known: Known | undefined;
  /** Driver calls on the guest in flight. */
  busy: number;
  /** Something asked for a look while it could not happen (busy, or before seed). */
  dirty: boolean;
  /**
   * While dirty: the state the last event leaves the guest in (LEAVES), when only events made it
   * dirty and the last one says; undefined otherwise.
   */
  leaves: GuestState['power_state'] | undefined;
  reason: string;
  hold: unknown;
  /** Sequence number of the last event, call or look: older reads and listings lose. */
  touched: number;
}

const same = (k: Known | undefined, s: GuestState | undefined) => (k === undefined ? s === undefined : s?.power_state === k.power_state);

/** Events (lifecycle-reason.ts) after which the guest can only be in this state. */
const LEAVES: ReadonlyMap<string, GuestState['power_state']> = new Map([
  ['started:booted', 'running'],
  ['resumed:unpaused', 'running'],
  ['stopped:shutdown', 'shutdown'],
  ['stopped:destroyed', 'shutdown'],
]);

export class PowerStateTracker {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;
  private started = false;
  private stopped = false;

  constructor(private readonly deps: TrackerDeps) {}

  /** true once seed() ran. */
  get seeded(): boolean {
    return this.started;
  }

  /** The mark a listing must be taken after; pass it back with the listing. */
  mark(): number {
    return this.seq;
  }

  /** The starting point: reported as nothing. Looks asked for before it run now. */
  seed(mark: number, guests: GuestState[]): void {
    for (const g of guests) {
      const e = this.entry(g.instance_uuid.toLowerCase());
      // A driver call since the listing began knows better.
      if (e.touched <= mark) e.known = { power_state: g.power_state, name: g.name };
    }
    this.started = true;
    for (const [uuid, e] of this.entries) {
      if (e.dirty && e.busy === 0) {
        e.dirty = false;
        e.leaves = undefined;
        this.look(uuid, e.reason);
      }
    }
  }

  /** The hypervisor said something about the guest. */
  event(uuid: string, reason: string): void {
    const key = uuid.toLowerCase();
    const e = this.entries.get(key);
    if (e !== undefined && this.agrees(e, reason)) {
      // Newer than any read under way: that read's answer is older than what the event says.
      this.touch(e);
      return;
    }
    this.look(key, reason);
  }

  /** The event can only leave the guest as its settled baseline says (nothing pending on it). */
  private agrees(e: Entry, reason: string): boolean {
    const leaves = LEAVES.get(reason);
    return leaves !== undefined && this.started && !this.stopped && e.busy === 0 && !e.dirty && e.hold === undefined && e.known?.power_state === leaves;
  }

  /** A listing of every guest, taken after `mark`. */
  listing(mark: number, guests: GuestState[], reason: string): void {
    if (this.stopped || !this.started) return;
    const listed = new Set<string>();
    for (const g of guests) {
      const uuid = g.instance_uuid.toLowerCase();
      listed.add(uuid);
      const e = this.entries.get(uuid);
      if (e && !this.settledSince(e, mark, reason)) continue;
      if (e?.hold !== undefined) {
        if (g.power_state === 'shutdown') continue; // its hold decides
        this.cancelHold(e);
      }
      if (!same(e?.known, g)) this.decide(uuid, e ?? this.entry(uuid), g, reason, false);
    }
    for (const [uuid, e] of this.entries) {
      if (listed.has(uuid) || e.known === undefined || !this.settledSince(e, mark, reason) || e.hold !== undefined) continue;
      this.decide(uuid, e, undefined, reason, false);
    }
  }

  /** A driver call on the guest starts. */
  begin(uuid: string): void {
    const e = this.entry(uuid.toLowerCase());
    e.busy++;
    this.touch(e);
    if (e.hold !== undefined) {
      this.cancelHold(e);
      e.dirty = true;
      e.leaves = undefined;
    }
  }

  /** The driver call ended; its outcome becomes the baseline. */
  end(uuid: string, outcome: CallOutcome): void {
    const key = uuid.toLowerCase();
    const e = this.entries.get(key);
    if (!e) return;
    e.busy = Math.max(0, e.busy - 1);
    this.touch(e);
    if ('state' in outcome) e.known = { power_state: outcome.state.power_state, name: outcome.state.name };
    else if ('gone' in outcome) e.known = undefined;
    const failed = 'failed' in outcome && outcome.failed;
    if (e.busy === 0 && this.started && e.dirty && !failed && 'state' in outcome && e.leaves === outcome.state.power_state) {
      // The last event during the call leaves the guest as the call found it: a read could only agree.
      e.dirty = false;
      e.leaves = undefined;
      this.prune(key, e);
    } else if (e.busy === 0 && this.started && (e.dirty || failed)) {
      const reason = e.dirty ? e.reason : 'reconcile';
      e.dirty = false;
      e.leaves = undefined;
      this.look(key, reason);
    } else {
      this.prune(key, e);
    }
  }

  /** No more reports; held changes are dropped. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.cancelHold(e);
  }

  /** Guests with a held shutdown (tests). */
  held(): string[] {
    return [...this.entries].filter(([, e]) => e.hold !== undefined).map(([uuid]) => uuid);
  }

  private entry(uuid: string): Entry {
    let e = this.entries.get(uuid);
    if (!e) {
      e = { known: undefined, busy: 0, dirty: false, leaves: undefined, reason: '', hold: undefined, touched: 0 };
      this.entries.set(uuid, e);
    }
    return e;
  }

  private touch(e: Entry): number {
    e.touched = ++this.seq;
    return e.touched;
  }

  /** The entry may be judged by a listing taken after `mark`; a busy one is marked for a look after its call. */
  private settledSince(e: Entry, mark: number, reason: string): boolean {
    if (e.touched > mark) return false;
    if (e.busy > 0) {
      e.dirty = true;
      e.leaves = undefined;
      e.reason = reason;
      return false;
    }
    return true;
  }

  private cancelHold(e: Entry): void {
    if (e.hold === undefined) return;
    this.deps.clock.clearTimeout(e.hold);
    e.hold = undefined;
  }

  private look(uuid: string, reason: string): void {
    if (this.stopped) return;
    const e = this.entry(uuid);
    e.reason = reason;
    if (e.busy > 0 || !this.started) {
      // Events only, so far: the last one's word stands; anything else that asked keeps the look.
      e.leaves = !e.dirty || e.leaves !== undefined ? LEAVES.get(reason) : undefined;
      e.dirty = true;
      return;
    }
    this.cancelHold(e);
    this.read(uuid, e, (seen) => this.decide(uuid, e, seen, reason, false));
  }

  /** Read the guest; `then` runs only if nothing touched it meanwhile. */
  private read(uuid: string, e: Entry, then: (seen: GuestState | undefined) => void): void {
    const mark = this.touch(e);
    this.deps.read(uuid).then(
      (seen) => {
        if (!this.stopped && this.entries.get(uuid) === e && e.touched === mark && e.busy === 0) then(seen);
      },
      (err: unknown) => {
        if (!this.stopped) this.deps.failed(err);
      },
    );
  }

  private decide(uuid: string, e: Entry, seen: GuestState | undefined, reason: string, confirmed: boolean): void {
    if (same(e.known, seen)) {
      if (seen && e.known) e.known.name = seen.name;
      this.prune(uuid, e);
      return;
    }
    if (seen?.power_state === 'shutdown' && !confirmed && this.deps.stopDelayMs > 0) {
      this.cancelHold(e);
      e.hold = this.deps.clock.setTimeout(() => {
        e.hold = undefined;
        this.read(uuid, e, (again) => this.decide(uuid, e, again, reason, true));
      }, this.deps.stopDelayMs);
      return;
    }
    const name = seen?.name ?? e.known?.name ?? '';
    e.known = seen ? { power_state: seen.power_state, name: seen.name } : undefined;
    this.prune(uuid, e);
    this.deps.emit({ instance_uuid: uuid, name, power_state: seen?.power_state ?? 'pending', exists: seen !== undefined, reason });
  }

  /** Forget a guest that is gone and has nothing pending. */
  private prune(uuid: string, e: Entry): void {
    if (e.known === undefined && e.busy === 0 && !e.dirty && e.hold === undefined) this.entries.delete(uuid);
  }
}
