/**
 * Nova's database kept as nova-compute keeps it, for the Nova requests the
 * worker serves (ports.ts SenderRecords): around each intent an instance
 * action event, the saves of instance-actions.ts, an instance fault when it
 * failed; after a build the scheduler hears of the instance, after a delete
 * its allocation is removed from Placement, the scheduler hears and the row
 * is destroyed. A request hostwall refuses does not leave its instance
 * waiting: a build goes to ERROR with the reason as its fault, any other
 * action gets its task state cleared and the fault.
 *
 * Failure contract, as nova-compute's decorators have it:
 * - a guarded save Nova refused (the API moved the instance on: a delete
 *   during a build, say) fails the intent as UNEXPECTED_TASK_STATE; Nova's
 *   change wins and nothing is cleared behind it;
 * - the instance gone from Nova's database fails the intent quietly;
 * - anything else is a fault on the instance plus the failure policy
 *   (revert the task state, or ERROR);
 * - a conductor that does not answer is retried (persist.ts) until the
 *   deadline; what then still fails is logged, and the periodic power sync
 *   repairs what it can.
 */
import type { ErrorInfo } from '../../../dispatch/outcome';
import type { IntentHooks, SenderRecords, WireRequest } from '../../../dispatch/ports';
import { IntentFailure } from '../../../errors';
import type { InstanceView } from '../../../host-state/instance-view';
import type { Intent } from '../../../intents';
import type { Logger } from '../../../log';
import { isJsonObject } from '../../../oslo/envelope';
import { RemoteError } from '../../../oslo/failure';
import { type ConductorClient, remoteClass } from '../conductor/conductor-client';
import { requestIdOf, servedContext } from '../conductor/context';
import { primitive } from '../conductor/primitive';
import { ACTIONS, type ActionScript, type FailurePolicy, type SaveStep, type StepContext } from './instance-actions';
import { InstanceRecord, type RecordIo } from './instance-record';
import type { SchedulerClient } from './scheduler-client';

/** Where a delete's allocation goes (the Placement client). */
export interface AllocationStore {
  deleteConsumerAllocations(consumerUuid: string, requestId?: string): Promise<unknown>;
}

export interface NovaRecordsDeps {
  conductor: ConductorClient;
  scheduler: SchedulerClient;
  allocations: AllocationStore;
  host: string;
  /** The compute node's name (hypervisor_hostname), known once registered. */
  node: () => string;
  /** How long a write is retried while the conductor does not answer. */
  deadlineMs: number;
  log: Logger;
  stopped: () => boolean;
  /** An instance came or went: the compute node's usage should be refreshed soon. */
  resourcesChanged: () => void;
}

/** Marks a failure as coming from Nova's side, so `failed` does not answer it with more writes. */
const FROM_NOVA = 'nova-conductor';

/** Nova's fault `code` (exception_to_dict: the exception's HTTP-ish code, 500 when it has none). */
function faultCode(e: ErrorInfo): number {
  switch (e.code) {
    case 'INSTANCE_NOT_FOUND':
    case 'DEVICE_NOT_FOUND':
      return 404;
    case 'NOT_SUPPORTED':
    case 'INVALID_INTENT':
    case 'UNKNOWN_KIND':
    case 'UNSUPPORTED_VERSION':
      return 400;
    case 'UNEXPECTED_TASK_STATE':
    case 'INVALID_STATE':
      return 409;
    default:
      return 500;
  }
}

/** A failure of the conductor's (a refused or unanswered save) as the intent's failure. */
function asIntentFailure(err: unknown, what: string): IntentFailure {
  const cls = remoteClass(err);
  const msg = err instanceof RemoteError ? err.remoteMessage : String(err instanceof Error ? err.message : err);
  const details = { source: FROM_NOVA, nova_error: cls ?? 'no answer' };
  if (cls === 'UnexpectedTaskStateError' || cls === 'UnexpectedDeletingTaskStateError') {
    return new IntentFailure('UNEXPECTED_TASK_STATE', `Nova changed the instance meanwhile (${what}): ${msg}`, details);
  }
  if (cls === 'InstanceNotFound') return new IntentFailure('INSTANCE_NOT_FOUND', `the instance is gone from Nova's database (${what}): ${msg}`, details);
  if (cls) return new IntentFailure('CONTROL_PLANE', `nova-conductor refused ${what}: ${cls}: ${msg}`, details);
  return new IntentFailure('CONTROL_PLANE', `nova-conductor did not answer ${what}: ${msg}`, details);
}

/** A small insertion-ordered set that forgets its oldest entries past `cap`. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly cap: number) {}
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.cap) {
      const oldest = this.ids.values().next();
      if (!oldest.done) this.ids.delete(oldest.value);
    }
  }
  take(id: string): boolean {
    return this.ids.delete(id);
  }
}

export class NovaRecords implements SenderRecords {
  /** Intents whose instance.state the hooks already wrote to Nova (the power sync skips them). */
  private readonly written = new RecentIds(10_000);

  constructor(private readonly deps: NovaRecordsDeps) {}

  forNovaRequest(req: WireRequest, intents: readonly Intent[]): readonly (IntentHooks | undefined)[] {
    const script = ACTIONS[req.method];
    const args = isJsonObject(req.args) ? req.args : {};
    const record = InstanceRecord.from(args.instance);
    // One action, one instance: the methods of ACTIONS each become a single intent.
    if (!script || !record || intents.length !== 1) return intents.map(() => undefined);
    if (req.uniqueId !== undefined) this.written.add(req.uniqueId);
    return [this.hooks(script, record, req, args)];
  }

  /** Whether the instance.state of intent `intentId` was already written by its hooks (and forget it). */
  wroteStateOf(intentId: string): boolean {
    return this.written.take(intentId);
  }

  async novaRefused(req: WireRequest, error: ErrorInfo): Promise<void> {
    const args = isJsonObject(req.args) ? req.args : {};
    const record = InstanceRecord.from(args.instance);
    // A call's caller has the error in its reply; a cast's instance would wait for nothing.
    if (!record || req.call) return;
    const io = this.io(req);
    const build = req.method === 'build_and_run_instance';
    const event = ACTIONS[req.method]?.event ?? `compute_${req.method}`;
    try {
      const started = build ? this.eventStart(io, record.uuid, event) : Promise.resolve(false);
      await this.fault(io, record.uuid, error);
      await this.applyPolicy(io, record, build ? 'build' : 'revert');
      await this.eventFinish(io, record.uuid, event, started, error);
      this.deps.log.info('refused Nova request recorded on the instance', { instance_uuid: record.uuid, method: req.method, code: error.code });
    } catch (err) {
      this.deps.log.error('could not record a refused Nova request on its instance', { instance_uuid: record.uuid, method: req.method, error: String(err) });
    }
  }

  private io(req: WireRequest): RecordIo {
    return { conductor: this.deps.conductor, context: servedContext(req.context), deadlineMs: this.deps.deadlineMs, log: this.deps.log, stopped: this.deps.stopped };
  }

  /**
   * The action event is recorded after the state it reports, not around the
   * driver as nova-compute's decorator does: sent beside the saves it made
   * the conductor answer them later (measured: a stop's save 15-20 ms alone,
   * ~38 ms beside event_start), and the saves are what the API shows.
   */
  private hooks(script: ActionScript, record: InstanceRecord, req: WireRequest, args: Readonly<Record<string, unknown>>): IntentHooks {
    const io = this.io(req);
    const step = (facts: InstanceView | undefined): StepContext => ({ host: this.deps.host, node: this.deps.node(), facts, args });
    const event = async (error: ErrorInfo | undefined) => this.eventFinish(io, record.uuid, script.event, this.eventStart(io, record.uuid, script.event), error);
    return {
      before: async () => {
        for (const s of script.before?.(step(undefined)) ?? []) await this.save(io, record, s);
      },
      succeeded: async (facts) => {
        await this.save(io, record, script.succeeded(step(facts)));
        if (script.after === 'built') this.afterBuild(io, record);
        if (script.after === 'deleted') await this.afterDelete(io, record);
        await event(undefined);
      },
      failed: async (error, facts) => {
        try {
          if (error.details.source !== FROM_NOVA || error.code === 'UNEXPECTED_TASK_STATE' || error.code === 'CONTROL_PLANE') {
            await this.fault(io, record.uuid, error);
          }
          if (error.details.source !== FROM_NOVA) await this.applyPolicy(io, record, this.policyOf(script, facts));
          await event(error);
        } catch (err) {
          this.deps.log.error('could not record the failure in Nova', { instance_uuid: record.uuid, event: script.event, error: String(err) });
        }
      },
    };
  }

  /** A reboot that failed with the guest still running only clears its task (nova's _reboot_instance). */
  private policyOf(script: ActionScript, facts: InstanceView | undefined): FailurePolicy {
    if (script.event === 'compute_reboot_instance' && facts?.power_state === 'running') return 'revert';
    return script.failure;
  }

  private async save(io: RecordIo, record: InstanceRecord, s: SaveStep): Promise<void> {
    try {
      await record.save(io, s.changes, s.expected !== undefined ? { expectedTaskState: s.expected } : {});
    } catch (err) {
      throw asIntentFailure(err, `Instance.save of ${Object.keys(s.changes).join(', ')}`);
    }
  }

  private async applyPolicy(io: RecordIo, record: InstanceRecord, policy: FailurePolicy): Promise<void> {
    if (policy === 'revert') return record.save(io, { task_state: null });
    if (policy === 'error') return record.save(io, { vm_state: 'error', task_state: null });
    await record.save(io, { vm_state: 'error', task_state: null, host: null, node: null });
    await this.deps.allocations.deleteConsumerAllocations(record.uuid, requestIdOf(io.context));
  }

  /** The scheduler learns of the new instance; the compute node's usage follows. Neither delays the build. */
  private afterBuild(io: RecordIo, record: InstanceRecord): void {
    this.deps.resourcesChanged();
    this.deps.scheduler.updateInstanceInfo(io.context, record.toPrimitive()).catch((err: unknown) => {
      this.deps.log.warn('update_instance_info to the schedulers failed (their periodic sync will catch up)', { instance_uuid: record.uuid, error: String(err) });
    });
  }

  /** _delete_instance after the guest is gone: the allocation, the schedulers, the row. */
  private async afterDelete(io: RecordIo, record: InstanceRecord): Promise<void> {
    await this.deps.allocations.deleteConsumerAllocations(record.uuid, requestIdOf(io.context));
    this.deps.scheduler.deleteInstanceInfo(io.context, record.uuid).catch((err: unknown) => {
      this.deps.log.warn('delete_instance_info to the schedulers failed (their periodic sync will catch up)', { instance_uuid: record.uuid, error: String(err) });
    });
    try {
      await record.destroy(io);
    } catch (err) {
      throw asIntentFailure(err, 'Instance.destroy');
    }
    this.deps.resourcesChanged();
  }

  /** InstanceActionEvent.event_start; false when Nova has no action to hang it on (a cast sent around the API). */
  private async eventStart(io: RecordIo, uuid: string, event: string): Promise<boolean> {
    try {
      await io.conductor.classAction(io.context, 'InstanceActionEvent', 'event_start', [uuid, event], { want_result: false, host: this.deps.host });
      return true;
    } catch (err) {
      this.deps.log.info('no instance action event recorded', { instance_uuid: uuid, event, error: String(err) });
      return false;
    }
  }

  private async eventFinish(io: RecordIo, uuid: string, event: string, started: Promise<boolean>, error: ErrorInfo | undefined): Promise<void> {
    if (!(await started)) return;
    const exc = error ? { exc_val: error.message, exc_tb: tracebackOf(error) } : { exc_val: null, exc_tb: null };
    try {
      await io.conductor.classAction(io.context, 'InstanceActionEvent', 'event_finish_with_failure', [uuid, event], { ...exc, want_result: false });
    } catch (err) {
      this.deps.log.warn('instance action event not finished', { instance_uuid: uuid, event, error: String(err) });
    }
  }

  /** compute_utils.add_instance_fault_from_exc: what `openstack server show` prints as the fault. */
  private async fault(io: RecordIo, uuid: string, error: ErrorInfo): Promise<void> {
    const code = faultCode(error);
    const data = {
      instance_uuid: uuid, code, host: this.deps.host,
      // The column is 255 characters; the whole text goes into details.
      message: error.message.slice(0, 255),
      details: code === 500 ? tracebackOf(error) : '',
    };
    try {
      await io.conductor.objectAction(io.context, primitive('InstanceFault', data, Object.keys(data)), 'create');
    } catch (err) {
      this.deps.log.warn('instance fault not recorded', { instance_uuid: uuid, error: String(err) });
    }
  }
}

/** What stands for a traceback in Nova's records: hostwall's error, not a Python stack. */
function tracebackOf(e: ErrorInfo): string {
  return `hostwall ${e.code}\n${e.osloClass}: ${e.message}\n`;
}
