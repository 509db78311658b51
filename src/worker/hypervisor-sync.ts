/**
 * Changes nobody asked for (a guest that crashed or shut itself down, an
 * operator's virsh), turned into what subscribers see: an `instance.state`
 * event with cause `hypervisor`, and — like Nova's _sync_instance_power_state,
 * which calls the stop API when an active guest is found shut down, crashed or
 * suspended — Nova's `instance.power_off.start/end`. While an intent runs on
 * the instance, only the power state is noted: the task settles the rest (Nova
 * also skips instances with a task_state).
 */
import { type BookedInstance, copyOf, type InstanceBook } from '../host-state/instance-book';
import type { EventSink } from '../dispatch/ports';
import type { Driver, GuestChange, GuestState, GuestWatch } from '../drivers/driver';
import type { IntentRequest } from '../host-state/instance-view';
import type { Intent } from '../intents';
import type { Logger } from '../log';

const STOPPED_BEHIND_OUR_BACK = new Set(['shutdown', 'crashed', 'suspended']);

export class HypervisorSync {
  private watch: GuestWatch | undefined;
  constructor(private readonly deps: { driver: Driver; book: InstanceBook; events: EventSink; log: Logger }) {}

  /** Start watching; resolves with every guest now, the baseline (from the watch itself, so no change falls in a gap). */
  async start(): Promise<GuestState[]> {
    const { driver, log } = this.deps;
    if (!driver.watch) return driver.listGuests();
    this.watch = driver.watch((c) => this.onChange(c), { onError: (err) => log.warn(`hypervisor watch: ${err.message}`, { code: err.code }) });
    return this.watch.ready;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
    this.watch = undefined;
  }

  private onChange(c: GuestChange): void {
    const { book, events, log } = this.deps;
    const before = book.get(c.instance_uuid);
    const wasActive = before?.vm_state === 'active' && before.task_state === null;
    const request: IntentRequest = {
      intent_id: `hypervisor:${c.instance_uuid}:${Date.now()}`,
      request_id: undefined, global_request_id: undefined, user_id: undefined, project_id: undefined, issuer: 'hypervisor',
    };
    let facts: BookedInstance;
    if (!c.exists) {
      // Nova only logs a guest it can no longer find; its vm_state stays until someone deletes it.
      facts = book.vanished(c.instance_uuid, c.name);
      log.warn('guest vanished behind hostwall\'s back', { instance_uuid: c.instance_uuid, reason: c.reason });
    } else {
      facts = book.observe(c.instance_uuid, c.power_state, c.name);
      log.info('guest changed behind hostwall\'s back', { instance_uuid: c.instance_uuid, power_state: c.power_state, vm_state: facts.vm_state, reason: c.reason });
    }
    const snapshot = copyOf(facts);
    const pubs: Promise<void>[] = [events.instanceState(snapshot, request, 'hypervisor')];
    if (c.exists && wasActive && STOPPED_BEHIND_OUR_BACK.has(c.power_state)) {
      const stop: Intent = { kind: 'instance.power_off', args: { instance_uuid: c.instance_uuid, clean: false, timeout_s: 0 } };
      pubs.push(events.novaPhase(stop, 'start', { ...snapshot, vm_state: 'active', task_state: 'powering-off' }, request));
      pubs.push(events.novaPhase(stop, 'end', { ...snapshot, vm_state: 'stopped', task_state: null }, request));
      book.markStopped(c.instance_uuid);
    }
    Promise.all(pubs).catch((err: unknown) => log.warn('could not publish a hypervisor-side change', { instance_uuid: c.instance_uuid, error: String(err) }));
  }
}
