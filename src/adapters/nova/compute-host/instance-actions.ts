/**
 * What nova-compute writes to Nova's database around each instance action
 * it serves (nova/compute/manager.py, Zed), as data: the action event name,
 * the saves before the driver runs, the save once it succeeded (with the
 * `expected_task_state` guard the API's task state makes safe), and what a
 * failure does (reverts_task_state, or ERROR for a build or a delete).
 *
 * Where nova-compute makes several saves in a row before the driver (a build
 * goes building → networking → block_device_mapping → spawning, each its
 * own round trip), hostwall makes one with the same first guard and the last
 * state: nothing reads the intermediate task states, and each round trip is
 * time the user waits for ACTIVE.
 */
import type { InstanceView } from '../../../host-state/instance-view';
import { POWER_STATE_CODE } from '../../../intents';
import { type ExpectedTaskState, novaTime } from './instance-record';

export interface SaveStep {
  changes: Record<string, unknown>;
  expected?: ExpectedTaskState;
}

export interface StepContext {
  host: string;
  node: string;
  /** The instance as the driver left it (success path). */
  facts: InstanceView | undefined;
  /** The Nova request's arguments (reboot_type, ...). */
  args: Readonly<Record<string, unknown>>;
}

/** What a failure leaves in the database. */
export type FailurePolicy =
  /** reverts_task_state: the task state is cleared, vm_state kept. */
  | 'revert'
  /** _set_instance_obj_error_state: vm_state error, task state cleared. */
  | 'error'
  /** A failed build: vm_state error with host and node cleared, and its Placement allocation removed. */
  | 'build';

export interface ActionScript {
  /** InstanceActionEvent name (wrap_instance_event: `compute_` + the method). */
  event: string;
  before?: (c: StepContext) => SaveStep[];
  succeeded: (c: StepContext) => SaveStep;
  failure: FailurePolicy;
  /** After the success save: a delete also removes the allocation, tells the scheduler and destroys the row. */
  after?: 'built' | 'deleted';
}

/** Nova's numeric power state of what the driver reported (NOSTATE when it reported nothing). */
function powerCode(c: StepContext): number {
  return c.facts ? POWER_STATE_CODE[c.facts.power_state] : 0;
}

/** pause/unpause/suspend/resume/stop/start: driver, then one guarded save of the settled state. */
function settle(event: string, vmState: string, expected: ExpectedTaskState): ActionScript {
  return {
    event,
    succeeded: (c) => ({ changes: { power_state: powerCode(c), vm_state: vmState, task_state: null }, expected }),
    failure: 'revert',
  };
}

const SOFT_REBOOT_STATES = ['rebooting', 'reboot_pending', 'reboot_started'];
const HARD_REBOOT_STATES = ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'];

export const ACTIONS: Readonly<Record<string, ActionScript>> = {
  build_and_run_instance: {
    event: 'compute__do_build_and_run_instance',
    // _do_build_and_run_instance's first save (expected scheduling/None), the claim's host/node, then spawning.
    before: (c) => [{
      changes: { vm_state: 'building', task_state: 'spawning', host: c.host, node: c.node, launched_on: c.host },
      expected: ['scheduling', null],
    }],
    succeeded: (c) => ({
      changes: { power_state: powerCode(c), vm_state: 'active', task_state: null, launched_at: novaTime() },
      expected: 'spawning',
    }),
    failure: 'build',
    after: 'built',
  },
  stop_instance: settle('compute_stop_instance', 'stopped', ['powering-off']),
  start_instance: settle('compute_start_instance', 'active', 'powering-on'),
  pause_instance: settle('compute_pause_instance', 'paused', 'pausing'),
  unpause_instance: settle('compute_unpause_instance', 'active', 'unpausing'),
  suspend_instance: settle('compute_suspend_instance', 'suspended', 'suspending'),
  resume_instance: settle('compute_resume_instance', 'active', 'resuming'),
  reboot_instance: {
    event: 'compute_reboot_instance',
    // _reboot_instance: pending then started (one save here), the driver, then active with no guard.
    before: (c) => {
      const hard = c.args.reboot_type === 'HARD';
      return [{ changes: { task_state: hard ? 'reboot_started_hard' : 'reboot_started' }, expected: hard ? HARD_REBOOT_STATES : SOFT_REBOOT_STATES }];
    },
    succeeded: (c) => ({ changes: { power_state: powerCode(c), vm_state: 'active', task_state: null } }),
    failure: 'error',
  },
  terminate_instance: {
    event: 'compute_terminate_instance',
    succeeded: () => ({ changes: { power_state: 0, vm_state: 'deleted', task_state: null, terminated_at: novaTime() } }),
    failure: 'error',
    after: 'deleted',
  },
};
