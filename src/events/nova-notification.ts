/**
 * Which Nova notifications an intent's phase produces, as Nova Zed's compute
 * manager emits them (nova/compute/manager.py, compute/utils.py), and in
 * which format ([notifications]notification_format: versioned, unversioned
 * or both; legacy first, as Nova sends them).
 *
 * The result is plain data: `{event_type, priority, publisher_id, payload}`
 * plus the topics to send it on. Wrapping it into an oslo message (message_id,
 * timestamp, context, envelope) is the oslo codec's job.
 *
 * Where Nova differs from "start, then end or error" (docs/design.md#events), Nova wins:
 * - only create, reboot, volume_attach and interface_attach have an `.error`;
 *   the other actions fail with a bare `compute.exception` (ExceptionPayload,
 *   from the compute manager's wrap_exception), and volume_attach and
 *   interface_attach send that too, after their `.error`;
 * - a reboot that fails while the guest still runs sends `.error` and then
 *   `.end`; one that leaves it not running sends `compute.exception`;
 * - `.start` shows the task_state the manager acts under (reboot_pending for
 *   a reboot, none for create and device actions);
 * - legacy notifications exist only for what Nova sends them for: none for
 *   interfaces, `compute.instance.volume.attach|detach` once, at the end.
 */
import { z } from 'zod';
import { type Intent, type IntentKind, taskStateFor } from '../intents';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import { type LegacyExtra, LegacyInstancePayload, legacyInstancePayload } from './nova-legacy';
import {
  exceptionPayload, type FaultInput, instanceActionPayload, instanceActionVolumePayload, instanceCreatePayload,
  type NovaMoment, type PayloadInput,
} from './nova-payload';
import { type NovaTaskState, VersionedPayload } from './nova-schemas';

export type NovaPhase = 'start' | 'end' | 'error';

export const NotificationFormat = z.enum(['versioned', 'unversioned', 'both']);

/** Nova's [notifications] options and oslo's notification topics, with hostwall's defaults. */
export const NotificationSettings = z.object({
  /** Nova's own default is 'unversioned'; hostwall's contract (docs/design.md#events) is the versioned form. */
  notification_format: NotificationFormat.default('versioned'),
  versioned_notifications_topics: z.array(z.string().min(1)).min(1).default(['versioned_notifications']),
  /** [oslo_messaging_notifications]topics: where legacy notifications go. */
  topics: z.array(z.string().min(1)).min(1).default(['notifications']),
  /** Nova lists block devices only where the action passes its BDMs, unless this is set. */
  bdms_in_notifications: z.boolean().default(false),
});
export type NotificationSettings = z.output<typeof NotificationSettings>;
export type NotificationSettingsInput = z.input<typeof NotificationSettings>;

export const NovaNotification = z.strictObject({
  event_type: z.string().min(1),
  priority: z.enum(['INFO', 'ERROR']),
  publisher_id: z.string().min(1),
  payload: z.union([VersionedPayload, LegacyInstancePayload]),
});
export type NovaNotification = z.infer<typeof NovaNotification>;

export interface NovaNotificationOut {
  format: 'versioned' | 'unversioned';
  /** One oslo publish per topic, routing key `<topic>.<priority lowercased>`. */
  topics: readonly string[];
  notification: NovaNotification;
}

type OnError = 'error' | 'error+exception' | 'exception' | 'reboot';

interface NovaAction {
  /** NotificationActionField value: `instance.<action>.<phase>`. */
  action: string;
  /** The compute manager method, named in faults. */
  method: string;
  payload: 'action' | 'create' | 'volume';
  /** Nova hands this action's BDMs to the notification. */
  bdms: boolean;
  onError: OnError;
  /** `compute.instance.<suffix>` per phase; absent where Nova sends no legacy notification. */
  legacy: Partial<Record<NovaPhase, string>>;
}

const plain = (action: string, method: string, bdms = false): NovaAction => ({
  action, method, payload: 'action', bdms, onError: 'exception',
  legacy: { start: `${action}.start`, end: `${action}.end` },
});

export const NOVA_ACTIONS: Readonly<Partial<Record<IntentKind, NovaAction>>> = {
  'instance.spawn': {
    action: 'create', method: 'build_and_run_instance', payload: 'create', bdms: true, onError: 'error',
    legacy: { start: 'create.start', end: 'create.end', error: 'create.error' },
  },
  'instance.destroy': plain('delete', 'terminate_instance', true),
  'instance.power_off': plain('power_off', 'stop_instance'),
  'instance.power_on': plain('power_on', 'start_instance'),
  'instance.reboot': {
    ...plain('reboot', 'reboot_instance', true), onError: 'reboot',
    legacy: { start: 'reboot.start', end: 'reboot.end', error: 'reboot.error' },
  },
  'instance.pause': plain('pause', 'pause_instance'),
  'instance.unpause': plain('unpause', 'unpause_instance'),
  'instance.suspend': plain('suspend', 'suspend_instance'),
  'instance.resume': plain('resume', 'resume_instance', true),
  'volume.attach': {
    action: 'volume_attach', method: 'attach_volume', payload: 'volume', bdms: false, onError: 'error+exception',
    legacy: { end: 'volume.attach' },
  },
  'volume.detach': {
    action: 'volume_detach', method: 'detach_volume', payload: 'volume', bdms: false, onError: 'exception',
    legacy: { end: 'volume.detach' },
  },
  'port.plug': {
    action: 'interface_attach', method: 'attach_interface', payload: 'action', bdms: false,
    onError: 'error+exception', legacy: {},
  },
  'port.unplug': {
    action: 'interface_detach', method: 'detach_interface', payload: 'action', bdms: false, onError: 'exception',
    legacy: {},
  },
};

/** `instance.<action>.<phase>` for a kind Nova notifies about. */
export function novaEventType(kind: IntentKind, phase: NovaPhase): string | undefined {
  const a = NOVA_ACTIONS[kind];
  return a ? `instance.${a.action}.${phase}` : undefined;
}

/**
 * The task_state the compute manager shows in `.start`: the API's (taskStateFor),
 * except that create.start comes before the manager sets any task, and a
 * reboot's manager has moved it on to reboot_pending(_hard).
 */
export function startTaskState(intent: Intent): NovaTaskState | null {
  if (intent.kind === 'instance.spawn') return null;
  if (intent.kind === 'instance.reboot') return intent.args.type === 'hard' ? 'reboot_pending_hard' : 'reboot_pending';
  return taskStateFor(intent);
}

export interface NovaPhaseInput {
  intent: Intent;
  phase: NovaPhase;
  facts: InstanceView;
  request: IntentRequest;
  /** The failure, for `error`. */
  fault?: FaultInput;
  at?: Date;
}

type Step = { type: 'action'; phase: NovaPhase; moment: NovaMoment } | { type: 'exception' };

/** What Nova emits, in order, at this phase of the action. */
function steps(intent: Intent, phase: NovaPhase, spec: NovaAction, facts: InstanceView): Step[] {
  if (phase === 'start') return [{ type: 'action', phase, moment: { task_state: startTaskState(intent) } }];
  if (phase === 'end') {
    const deleted: NovaMoment = { state: 'deleted', power_state: 'pending', deleted: true };
    return [{ type: 'action', phase, moment: { task_state: null, ...(spec.action === 'delete' ? deleted : {}) } }];
  }
  switch (spec.onError) {
    case 'error':
      // create.error: the build failed in the driver; the instance is still building.
      return [{ type: 'action', phase, moment: { state: 'building', task_state: 'spawning' } }];
    case 'error+exception':
      return [{ type: 'action', phase, moment: { task_state: null } }, { type: 'exception' }];
    case 'reboot': {
      if (facts.power_state !== 'running') return [{ type: 'exception' }];
      const hard = intent.kind === 'instance.reboot' && intent.args.type === 'hard';
      return [
        { type: 'action', phase: 'error', moment: { task_state: hard ? 'reboot_started_hard' : 'reboot_started' } },
        { type: 'action', phase: 'end', moment: { state: 'active', task_state: null } },
      ];
    }
    case 'exception':
      return [{ type: 'exception' }];
  }
}

const UNKNOWN_FAULT: FaultInput = { code: 'INTERNAL', message: 'unknown error' };

/** The notifications for one phase of an intent, in the configured format(s); [] for kinds Nova does not notify. */
export function novaNotifications(input: NovaPhaseInput, settingsInput: NotificationSettingsInput = {}): NovaNotificationOut[] {
  return novaNotificationsWith(input, NotificationSettings.parse(settingsInput));
}

/** novaNotifications with settings parsed once by the caller (the event sink, per worker), not per notification. */
export function novaNotificationsWith(input: NovaPhaseInput, settings: NotificationSettings): NovaNotificationOut[] {
  const { intent, facts, request } = input;
  const spec = NOVA_ACTIONS[intent.kind];
  if (!spec) return [];
  const at = input.at ?? new Date();
  const fault = input.fault ?? UNKNOWN_FAULT;
  const legacy = settings.notification_format !== 'versioned';
  const versioned = settings.notification_format !== 'unversioned';
  // A spawn's requester is the instance's owner; a later requester may be an admin.
  const ownerFallback = intent.kind === 'instance.spawn' ? { user_id: request.user_id, project_id: request.project_id } : undefined;
  const volumeId = intent.kind === 'volume.attach' || intent.kind === 'volume.detach' ? intent.args.volume_id : '';
  const out: NovaNotificationOut[] = [];

  for (const step of steps(intent, input.phase, spec, facts)) {
    if (step.type === 'exception') {
      if (versioned) {
        out.push({
          format: 'versioned',
          topics: settings.versioned_notifications_topics,
          notification: {
            event_type: 'compute.exception',
            priority: 'ERROR',
            publisher_id: `nova-compute:${facts.host}`,
            payload: exceptionPayload(fault, spec.method),
          },
        });
      }
      continue;
    }
    const p: PayloadInput = {
      facts, request, at, moment: step.moment, ownerFallback,
      withBlockDevices: spec.bdms || settings.bdms_in_notifications,
    };
    const isError = step.phase === 'error';
    const suffix = spec.legacy[step.phase];
    if (legacy && suffix !== undefined) {
      out.push({
        format: 'unversioned',
        topics: settings.topics,
        notification: {
          event_type: `compute.instance.${suffix}`,
          priority: isError ? 'ERROR' : 'INFO',
          publisher_id: `compute.${facts.host}`,
          payload: legacyInstancePayload(p, legacyExtra(spec, step.phase, volumeId), isError ? fault : undefined),
        },
      });
    }
    if (versioned) {
      const f = isError ? exceptionPayload(fault, spec.method) : null;
      const payload = spec.payload === 'create'
        ? instanceCreatePayload(p, f)
        : spec.payload === 'volume'
          ? instanceActionVolumePayload(p, f, volumeId)
          : instanceActionPayload(p, f);
      out.push({
        format: 'versioned',
        topics: settings.versioned_notifications_topics,
        notification: {
          event_type: `instance.${spec.action}.${step.phase}`,
          priority: isError ? 'ERROR' : 'INFO',
          publisher_id: `nova-compute:${facts.host}`,
          payload,
        },
      });
    }
  }
  return out;
}

/** The extra_usage_info Nova adds to particular legacy events. */
function legacyExtra(spec: NovaAction, phase: NovaPhase, volumeId: string): LegacyExtra {
  if (spec.action === 'create' && phase === 'start') return { image_name: null };
  if (spec.action === 'create' && phase === 'end') return { message: 'Success', fixed_ips: [] };
  if (spec.payload === 'volume') return { volume_id: volumeId };
  return {};
}

/** The topics a worker publishes Nova notifications on, for declaring their queues. */
export function notificationTopicsOf(settingsInput: NotificationSettingsInput = {}): string[] {
  const s = NotificationSettings.parse(settingsInput);
  const legacy = s.notification_format !== 'versioned' ? s.topics : [];
  const versioned = s.notification_format !== 'unversioned' ? s.versioned_notifications_topics : [];
  return [...legacy, ...versioned];
}
