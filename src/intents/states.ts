/** Nova's state vocabulary (nova/compute/power_state.py, vm_states.py, task_states.py). */
import { z } from 'zod';
import type { Intent } from './kinds';

export const PowerState = z.enum(['pending', 'running', 'paused', 'shutdown', 'crashed', 'suspended']);
export const VmState = z.enum(['active', 'stopped', 'paused', 'suspended', 'building', 'error', 'deleted']);
export const TaskState = z
  .enum([
    'spawning', 'deleting', 'powering-off', 'powering-on', 'rebooting', 'rebooting_hard',
    'pausing', 'unpausing', 'suspending', 'resuming',
  ])
  .nullable();

/** Nova's numeric power state codes, as its database keeps them (the compute host's power sync and instance actions). */
export const POWER_STATE_CODE: Record<PowerState, number> = {
  pending: 0, running: 1, paused: 3, shutdown: 4, crashed: 6, suspended: 7,
};

export const InstanceState = z.strictObject({
  instance_uuid: z.string(),
  power_state: PowerState,
  vm_state: VmState,
  task_state: TaskState,
});

export type PowerState = z.infer<typeof PowerState>;
export type VmState = z.infer<typeof VmState>;
export type TaskState = z.infer<typeof TaskState>;
export type InstanceState = z.infer<typeof InstanceState>;

/** The task_state Nova's API sets while an action runs (nova/compute/api.py). */
export function taskStateFor(intent: Intent): TaskState {
  switch (intent.kind) {
    case 'instance.spawn':
      return 'spawning';
    case 'instance.destroy':
      return 'deleting';
    case 'instance.power_off':
      return 'powering-off';
    case 'instance.power_on':
      return 'powering-on';
    case 'instance.reboot':
      return intent.args.type === 'hard' ? 'rebooting_hard' : 'rebooting';
    case 'instance.pause':
      return 'pausing';
    case 'instance.unpause':
      return 'unpausing';
    case 'instance.suspend':
      return 'suspending';
    case 'instance.resume':
      return 'resuming';
    default:
      return null;
  }
}
