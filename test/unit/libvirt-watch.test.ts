/**
 * What the power-state tracker reports and when, with a fake clock and a
 * fake hypervisor: Nova's lifecycle handling (events are only a reason to
 * look; Stopped held so a reboot is not a shutdown) and power-state sync
 * (a listing catches what events missed), plus hostwall's rule that what
 * the driver itself did is never reported.
 */
import { expect } from 'chai';
import type { GuestChange, GuestState } from '../../src/drivers/driver';
import { lifecycleReason } from '../../src/drivers/libvirt/lifecycle-reason';
import { PowerStateTracker, type TrackerClock } from '../../src/drivers/libvirt/power-state-tracker';
import type { PowerState } from '../../src/intents';

class FakeClock implements TrackerClock {
  now = 0;
  private next = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Move time on, firing due timers in order and letting the reads they start settle. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.now = until;
  }
}

/** Let pending reads (promise callbacks) run. */
const settle = () => new Promise((r) => setImmediate(r));

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const STOP_DELAY = 5000;

function setup() {
  const clock = new FakeClock();
  const guests = new Map<string, GuestState>();
  const changes: GuestChange[] = [];
  const failures: unknown[] = [];
  const tracker = new PowerStateTracker({
    read: async (uuid) => guests.get(uuid),
    emit: (c) => changes.push(c),
    failed: (err) => failures.push(err),
    clock,
    stopDelayMs: STOP_DELAY,
  });
  const set = (uuid: string, power_state: PowerState) => guests.set(uuid, { instance_uuid: uuid, name: `n-${uuid.slice(0, 1)}`, power_state });
  const seed = () => tracker.seed(tracker.mark(), [...guests.values()]);
  const summary = () => changes.map((c) => `${c.instance_uuid.slice(0, 1)}:${c.power_state}${c.exists ? '' : ':gone'}:${c.reason}`);
  return { clock, guests, changes, failures, tracker, set, seed, summary };
}

describe('libvirt power-state tracker (injected clock)', () => {
  it('reports nothing for the starting listing, nor for an event that changes nothing', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.tracker.event(A, 'defined:updated');
    await settle();
    expect(t.changes).to.deep.equal([]);
  });

  it('reports a pause once, with the event as reason, and not again on a duplicate event', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.set(A, 'paused');
    t.tracker.event(A, 'suspended:paused');
    await settle();
    t.tracker.event(A, 'suspended:paused');
    await settle();
    expect(t.changes).to.deep.equal([{ instance_uuid: A, name: 'n-a', power_state: 'paused', exists: true, reason: 'suspended:paused' }]);
  });

  it('holds a shutdown for the stop delay, then reports it once', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.set(A, 'shutdown');
    t.tracker.event(A, 'stopped:shutdown');
    await settle();
    await t.clock.advance(STOP_DELAY - 1);
    expect(t.changes).to.deep.equal([]);
    expect(t.tracker.held()).to.deep.equal([A]);
    await t.clock.advance(1);
    expect(t.summary()).to.deep.equal(['a:shutdown:stopped:shutdown']);
    await t.clock.advance(STOP_DELAY * 3);
    expect(t.changes).to.have.length(1);
  });

  it('reports nothing for a reboot done as stop then start within the delay, even if the start event is missed', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.set(A, 'shutdown');
    t.tracker.event(A, 'stopped:destroyed');
    await settle();
    await t.clock.advance(1000);
    t.set(A, 'running'); // no started event
    await t.clock.advance(STOP_DELAY);
    expect(t.changes).to.deep.equal([]);
    expect(t.tracker.held()).to.deep.equal([]);
  });

  it('restarts the hold on a newer event, as Nova cancels a held Stopped event', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.set(A, 'shutdown');
    t.tracker.event(A, 'stopped:destroyed');
    await settle();
    await t.clock.advance(4000);
    t.tracker.event(A, 'undefined:renamed');
    await settle();
    await t.clock.advance(4000);
    expect(t.changes).to.deep.equal([]);
    await t.clock.advance(1000);
    expect(t.summary()).to.deep.equal(['a:shutdown:undefined:renamed']);
  });

  it('reports a guest that vanished as not existing, at once (no hold), and forgets it', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.guests.delete(A);
    t.tracker.event(A, 'undefined:removed');
    await settle();
    expect(t.changes).to.deep.equal([{ instance_uuid: A, name: 'n-a', power_state: 'pending', exists: false, reason: 'undefined:removed' }]);
    t.tracker.event(A, 'undefined:removed');
    await settle();
    expect(t.changes).to.have.length(1);
  });

  it('does not report what a driver call did: events during the call wait, its result becomes the baseline', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.tracker.begin(A);
    t.set(A, 'shutdown');
    t.tracker.event(A, 'stopped:destroyed');
    t.set(A, 'running');
    t.tracker.event(A, 'started:booted');
    t.set(A, 'paused');
    t.tracker.event(A, 'suspended:paused');
    await settle();
    t.tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'paused' } });
    await settle();
    await t.clock.advance(STOP_DELAY * 2);
    expect(t.changes).to.deep.equal([]);
  });

  it('does not read the guest after an event that can only leave it as its settled baseline says', async () => {
    const t = setup();
    let reads = 0;
    const tracker = new PowerStateTracker({
      read: async (uuid) => {
        reads++;
        return t.guests.get(uuid);
      },
      emit: (c) => t.changes.push(c),
      failed: (err) => t.failures.push(err),
      clock: t.clock,
      stopDelayMs: STOP_DELAY,
    });
    t.set(A, 'running');
    tracker.seed(tracker.mark(), [...t.guests.values()]);
    // The driver's own power-off: its result is the baseline, libvirt's event comes after the call.
    tracker.begin(A);
    t.set(A, 'shutdown');
    tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'shutdown' } });
    tracker.event(A, 'stopped:shutdown');
    await settle();
    expect(reads).to.equal(0);
    // An event the baseline contradicts is read, and a change it shows is reported.
    t.set(A, 'running');
    tracker.event(A, 'started:booted');
    await settle();
    expect(reads).to.equal(1);
    // So is an event of a kind that does not say the state, even if the baseline may agree.
    tracker.event(A, 'defined:updated');
    await settle();
    expect(reads).to.equal(2);
    await t.clock.advance(STOP_DELAY * 2);
    expect(t.summary()).to.deep.equal(['a:running:started:booted']);
    // An event that comes during the call: no read if it leaves the guest as the call found it...
    tracker.begin(A);
    tracker.event(A, 'started:booted');
    tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'running' } });
    await settle();
    expect(reads).to.equal(2);
    // ...a read if not, or if a listing asked for a look meanwhile.
    tracker.begin(A);
    t.set(A, 'paused');
    tracker.event(A, 'stopped:destroyed');
    tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'running' } });
    await settle();
    expect(reads).to.equal(3);
    t.set(A, 'running');
    tracker.begin(A);
    tracker.event(A, 'started:booted');
    tracker.listing(tracker.mark(), [...t.guests.values()], 'reconcile');
    tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'running' } });
    await settle();
    expect(reads).to.equal(4);
    expect(t.summary()).to.deep.equal(['a:running:started:booted', 'a:paused:stopped:destroyed']);
  });

  it('reports a change behind the driver’s back during its call, once the call has ended', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.tracker.begin(A);
    t.set(A, 'paused'); // the call paused it ...
    t.tracker.event(A, 'suspended:paused');
    t.set(A, 'crashed'); // ... and then it crashed
    t.tracker.event(A, 'crashed:panicked');
    await settle();
    expect(t.changes).to.deep.equal([]);
    t.tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'paused' } });
    await settle();
    expect(t.summary()).to.deep.equal(['a:crashed:crashed:panicked']);
  });

  it('looks again after a failed call, and forgets a guest the driver destroyed', async () => {
    const t = setup();
    t.set(A, 'running');
    t.set(B, 'running');
    t.seed();
    t.tracker.begin(A);
    t.set(A, 'paused');
    t.tracker.end(A, { unchanged: true, failed: true });
    await settle();
    expect(t.summary()).to.deep.equal(['a:paused:reconcile']);
    t.tracker.begin(B);
    t.guests.delete(B);
    t.tracker.event(B, 'undefined:removed');
    t.tracker.end(B, { gone: true });
    await settle();
    expect(t.changes).to.have.length(1);
  });

  it('catches with a listing what no event said: a changed guest, a vanished one, a new one', async () => {
    const t = setup();
    t.set(A, 'running');
    t.set(B, 'running');
    t.seed();
    t.set(A, 'paused');
    t.guests.delete(B);
    const C = 'cccccccc-0000-4000-8000-000000000003';
    t.set(C, 'running');
    t.tracker.listing(t.tracker.mark(), [...t.guests.values()], 'reconcile');
    expect(t.summary().sort()).to.deep.equal(['a:paused:reconcile', 'b:pending:gone:reconcile', 'c:running:reconcile']);
  });

  it('lets a listing taken before a newer look or call lose, and leaves a held shutdown to its hold', async () => {
    const t = setup();
    t.set(A, 'running');
    t.set(B, 'running');
    t.seed();
    const mark = t.tracker.mark();
    const stale = [...t.guests.values()].map((g) => ({ ...g, power_state: 'paused' as const }));
    t.tracker.begin(A);
    t.tracker.end(A, { state: { instance_uuid: A, name: 'n-a', power_state: 'running' } });
    t.set(B, 'shutdown');
    t.tracker.event(B, 'stopped:shutdown');
    await settle();
    t.tracker.listing(mark, stale, 'reconcile');
    t.tracker.listing(t.tracker.mark(), [...t.guests.values()], 'reconcile');
    expect(t.changes).to.deep.equal([]);
    await t.clock.advance(STOP_DELAY);
    expect(t.summary()).to.deep.equal(['b:shutdown:stopped:shutdown']);
  });

  it('answers events that came before the starting listing only after it', async () => {
    const t = setup();
    t.set(A, 'running');
    t.tracker.event(A, 'defined:added');
    await settle();
    expect(t.changes).to.deep.equal([]);
    t.seed();
    await settle();
    expect(t.changes).to.deep.equal([]);
  });

  it('reports nothing after stop, held changes included', async () => {
    const t = setup();
    t.set(A, 'running');
    t.seed();
    t.set(A, 'shutdown');
    t.tracker.event(A, 'stopped:shutdown');
    await settle();
    t.tracker.stop();
    await t.clock.advance(STOP_DELAY * 2);
    t.tracker.event(A, 'stopped:shutdown');
    t.tracker.listing(t.tracker.mark(), [], 'reconcile');
    await settle();
    expect(t.changes).to.deep.equal([]);
  });

  it('hands a failed read to `failed` and reports nothing for it', async () => {
    const t = setup();
    t.set(A, 'running');
    const tracker = new PowerStateTracker({
      read: async () => {
        throw new Error('connection lost');
      },
      emit: (c) => t.changes.push(c),
      failed: (err) => t.failures.push(err),
      clock: t.clock,
      stopDelayMs: STOP_DELAY,
    });
    tracker.seed(tracker.mark(), [...t.guests.values()]);
    tracker.event(A, 'stopped:shutdown');
    await settle();
    expect(t.changes).to.deep.equal([]);
    expect(t.failures).to.have.length(1);
  });
});

describe('libvirt lifecycle event names', () => {
  it('names event and detail as libvirt does, numbers for what it does not know', () => {
    expect(lifecycleReason(5, 1)).to.equal('stopped:destroyed');
    expect(lifecycleReason(3, 0)).to.equal('suspended:paused');
    expect(lifecycleReason(2, 0)).to.equal('started:booted');
    expect(lifecycleReason(5, 4)).to.equal('stopped:saved');
    expect(lifecycleReason(8, 0)).to.equal('crashed:panicked');
    expect(lifecycleReason(5, 42)).to.equal('stopped:42');
    expect(lifecycleReason(99, 1)).to.equal('99:1');
  });
});
