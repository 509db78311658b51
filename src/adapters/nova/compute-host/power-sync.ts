/**
 * What happens to a guest outside Nova's requests reaches Nova's database,
 * as nova-compute's _sync_power_states and lifecycle events make it: a guest
 * shut off from inside, crashed or destroyed behind Nova's back, and an
 * operator's (or Cinder's, Neutron's) intent through the wall that changed
 * an instance Nova tracks.
 *
 * Rules (nova/compute/manager.py _sync_instance_power_state, with one
 * deliberate difference):
 * - an instance with a task in progress is left alone: the task's own save
 *   settles it (the save is guarded by expected_task_state None, so a task
 *   Nova starts meanwhile wins);
 * - power_state always follows the hypervisor (NOSTATE for a guest it no
 *   longer has);
 * - vm_state follows the guest between active, stopped, paused and
 *   suspended; building, error and the other states are Nova's to change.
 *   Nova itself answers a guest found running while the database says
 *   stopped by stopping it again; hostwall records it as active instead,
 *   because through the wall an operator's power_on is as legitimate as
 *   Nova's (the README's "Replacing nova-compute" says so).
 */
import type { InstanceBook } from '../../../host-state/instance-book';
import type { InstanceView } from '../../../host-state/instance-view';
import { POWER_STATE_CODE } from '../../../intents';
import type { Logger } from '../../../log';
import { type ConductorClient, remoteClass } from '../conductor/conductor-client';
import { adminContext } from '../conductor/context';
import { hostRecords } from './host-instances';
import { InstanceRecord, type RecordIo } from './instance-record';

const SETTLED = new Set(['active', 'stopped', 'paused', 'suspended']);

export interface PowerSyncDeps {
  conductor: ConductorClient;
  book: InstanceBook;
  host: string;
  log: Logger;
  deadlineMs: number;
  stopped: () => boolean;
}

/** The fields to save so that Nova's record matches the guest (empty: nothing to do). */
export function powerSyncChanges(record: { vm_state: unknown; power_state: unknown }, facts: Pick<InstanceView, 'power_state' | 'vm_state'> | undefined): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  const power = facts ? POWER_STATE_CODE[facts.power_state] : 0;
  if (record.power_state !== power) changes.power_state = power;
  if (facts && typeof record.vm_state === 'string' && SETTLED.has(record.vm_state) && SETTLED.has(facts.vm_state) && record.vm_state !== facts.vm_state) {
    changes.vm_state = facts.vm_state;
  }
  return changes;
}

export class PowerSync {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private running: Promise<void> | undefined;

  constructor(private readonly deps: PowerSyncDeps) {}

  /** Every instance of this host in Nova against the hypervisor (the periodic task). Never rejects. */
  syncAll(): Promise<void> {
    this.running ??= this.doSyncAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** One instance changed outside Nova's requests: sync it soon (changes in a burst are folded). */
  changed(uuid: string, delayMs = 200): void {
    const t = this.pending.get(uuid);
    if (t) clearTimeout(t);
    this.pending.set(uuid, setTimeout(() => {
      this.pending.delete(uuid);
      void this.syncOne(uuid);
    }, delayMs));
  }

  stop(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  private io(): RecordIo {
    return { conductor: this.deps.conductor, context: adminContext(), deadlineMs: this.deps.deadlineMs, log: this.deps.log, stopped: this.deps.stopped };
  }

  private async doSyncAll(): Promise<void> {
    const io = this.io();
    try {
      const records = await hostRecords(io.conductor, io.context, this.deps.host);
      for (const r of records) await this.apply(io, r);
    } catch (err) {
      this.deps.log.warn('power state sync with Nova failed (tried again next period)', { error: String(err) });
    }
  }

  private async syncOne(uuid: string): Promise<void> {
    const io = this.io();
    try {
      const record = await InstanceRecord.load(io, uuid);
      // Not Nova's (an operator's own guest), or Nova placed it elsewhere: not ours to write.
      if (!record || record.field('host') !== this.deps.host) return;
      await this.apply(io, record);
    } catch (err) {
      this.deps.log.warn('power state sync of one instance failed (the periodic sync tries again)', { instance_uuid: uuid, error: String(err) });
    }
  }

  private async apply(io: RecordIo, record: InstanceRecord): Promise<void> {
    if (record.field('task_state') !== null && record.field('task_state') !== undefined) return;
    const changes = powerSyncChanges({ vm_state: record.field('vm_state'), power_state: record.field('power_state') }, this.deps.book.get(record.uuid));
    if (Object.keys(changes).length === 0) return;
    try {
      await record.save(io, changes, { expectedTaskState: [null] });
      this.deps.log.info('instance state synced to Nova', { instance_uuid: record.uuid, ...changes });
    } catch (err) {
      if (remoteClass(err) === 'UnexpectedTaskStateError' || remoteClass(err) === 'InstanceNotFound') return; // Nova moved on: its task settles it
      throw err;
    }
  }
}
