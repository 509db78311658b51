/**
 * Nova's versioned payloads built from the worker's InstanceView, field for
 * field as Nova Zed's constructors fill them (InstancePayload.__init__ and
 * its SCHEMA): what the worker does not know is null, as Nova sets a field it
 * cannot load to None; non-nullable fields get Nova's own defaults.
 */
import type { Flavor, PowerState } from '../intents';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import type {
  BlockDevicePayload, ExceptionPayload, FlavorPayload, InstanceActionData, InstanceActionPayload,
  InstanceActionVolumePayload, InstanceCreatePayload, NovaTaskState, NovaVmState,
} from './nova-schemas';

/** A failure as the dispatcher reports it (its ErrorInfo fits). */
export interface FaultInput {
  code: string;
  message: string;
  /** The exception class a Python peer sees (errors.ts osloClass). */
  osloClass?: string;
  osloModule?: string;
}

/**
 * What Nova shows at the moment it notifies, where that differs from the
 * facts (e.g. `.start` carries the task_state the action runs under; delete's
 * `.end` shows power_state pending, as Nova sets NOSTATE on delete).
 */
export interface NovaMoment {
  state?: NovaVmState | null;
  power_state?: PowerState | null;
  task_state?: NovaTaskState | null;
  /** The instance row is deleted: deleted_at (and terminated_at, if unset) become `at`. */
  deleted?: boolean;
}

export interface PayloadInput {
  facts: InstanceView;
  request: IntentRequest;
  at: Date;
  moment?: NovaMoment;
  /** Nova passes the BDMs (create, delete, reboot, resume), or [notifications]bdms_in_notifications is set. */
  withBlockDevices: boolean;
  /** The owner when the facts don't know it: only a spawn's requester is the owner. */
  ownerFallback?: { user_id: string | undefined; project_id: string | undefined };
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/**
 * Answers by text, and the last second formatted. Why: every notification formats the same few
 * times again (each instance's created_at and launched_at, and now, which changes once a second),
 * and parsing a date string is the slow part (~3 µs). Bounded: cleared when full.
 */
const byText = new Map<string, string | null>();
const BY_TEXT_MAX = 1024;
let lastSecond = Number.NaN;
let lastSecondText = '';

/** DateTimeField.to_primitive: whole seconds, `Z`; null for a missing or unreadable time. */
export function novaDateTime(t: string | Date | undefined): string | null {
  if (t === undefined) return null;
  if (typeof t !== 'string') return wholeSeconds(t);
  let text = byText.get(t);
  if (text === undefined) {
    text = wholeSeconds(new Date(t));
    if (byText.size >= BY_TEXT_MAX) byText.clear();
    byText.set(t, text);
  }
  return text;
}

function wholeSeconds(d: Date): string | null {
  const ms = d.getTime();
  if (Number.isNaN(ms)) return null;
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecondText = `${d.toISOString().slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastSecondText;
}

/** The view of the instance Nova would serialize now: facts, overridden by the moment. */
export function novaView(input: Pick<PayloadInput, 'facts' | 'moment' | 'at'>) {
  const { facts, moment = {}, at } = input;
  const deletedAt = moment.deleted ? at.toISOString() : undefined;
  return {
    state: moment.state !== undefined ? moment.state : facts.vm_state,
    power_state: moment.power_state !== undefined ? moment.power_state : facts.power_state,
    task_state: moment.task_state !== undefined ? moment.task_state : facts.task_state,
    terminated_at: facts.terminated_at ?? deletedAt,
    deleted_at: deletedAt,
  };
}

/**
 * FlavorPayload 1.4 from the flavor an instance was spawned with. Nova's
 * Flavor object defaults fill what a hostwall flavor does not carry (swap 0,
 * no ephemeral disk, public, enabled, rxtx 1.0); the name is '' when unknown,
 * as Nova's legacy notifications do (`flavor.get('name', '')`).
 */
export function flavorPayload(flavor: Flavor | undefined): FlavorPayload {
  return {
    'nova_object.name': 'FlavorPayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.4',
    'nova_object.data': {
      flavorid: null,
      memory_mb: flavor?.memory_mb ?? null,
      vcpus: flavor?.vcpus ?? null,
      root_gb: flavor?.root_gb ?? null,
      ephemeral_gb: flavor ? 0 : null,
      name: '',
      swap: 0,
      rxtx_factor: 1.0,
      vcpu_weight: null,
      disabled: false,
      is_public: true,
      extra_specs: {},
      projects: null,
      description: null,
    },
  };
}

/** BlockDevicePayload.from_bdms: one per attached volume; device names as Nova stores them (/dev/vdb). */
function blockDevices(facts: InstanceView): BlockDevicePayload[] {
  return facts.volumes.map((v) => ({
    'nova_object.name': 'BlockDevicePayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.0',
    'nova_object.data': {
      device_name: v.device === undefined ? null : v.device.startsWith('/dev/') ? v.device : `/dev/${v.device}`,
      boot_index: null,
      delete_on_termination: false,
      volume_id: v.volume_id,
      tag: null,
    },
  }));
}

/**
 * ExceptionPayload 1.1 for a `.error` fault or compute.exception. There is no
 * Python frame: function_name is the Nova compute manager method the action
 * stands for, and the traceback is empty rather than invented.
 */
export function exceptionPayload(fault: FaultInput, functionName: string): ExceptionPayload {
  return {
    'nova_object.name': 'ExceptionPayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.1',
    'nova_object.data': {
      module_name: fault.osloModule ?? 'hostwall',
      function_name: functionName,
      exception: fault.osloClass ?? fault.code,
      exception_message: fault.message,
      traceback: '',
    },
  };
}

/** InstanceActionPayload's data (InstancePayload 1.8 + fault), in Nova's field order. */
export function instanceActionData(input: PayloadInput, fault: ExceptionPayload | null): InstanceActionData {
  const { facts, request, at } = input;
  const view = novaView(input);
  const owner = facts.owner ?? input.ownerFallback;
  return {
    uuid: facts.uuid,
    user_id: orNull(owner?.user_id),
    tenant_id: orNull(owner?.project_id),
    reservation_id: null,
    display_name: facts.name,
    display_description: null,
    host_name: null,
    host: facts.host,
    // libvirt's node is the host itself (Nova: hypervisor_hostname).
    node: facts.host,
    os_type: null,
    architecture: null,
    availability_zone: null,
    flavor: flavorPayload(facts.flavor),
    image_uuid: orNull(facts.image_id),
    key_name: null,
    kernel_id: null,
    ramdisk_id: null,
    created_at: novaDateTime(facts.created_at),
    launched_at: novaDateTime(facts.launched_at),
    terminated_at: novaDateTime(view.terminated_at),
    deleted_at: novaDateTime(view.deleted_at),
    // The worker's record changes with every action it reports on.
    updated_at: novaDateTime(at),
    state: view.state,
    power_state: view.power_state,
    task_state: view.task_state,
    progress: null,
    // Nova lists one IpPayload per fixed IP of a VIF; hostwall's ports carry no IPs.
    ip_addresses: [],
    block_devices: input.withBlockDevices ? blockDevices(facts) : null,
    metadata: { ...facts.metadata },
    locked: false,
    auto_disk_config: 'MANUAL',
    // Nova leaves request_id out for contexts without a user and project (periodic tasks).
    request_id: request.project_id && request.user_id ? orNull(request.request_id) : null,
    action_initiator_user: orNull(request.user_id),
    action_initiator_project: orNull(request.project_id),
    locked_reason: null,
    fault,
  };
}

export function instanceActionPayload(input: PayloadInput, fault: ExceptionPayload | null): InstanceActionPayload {
  return {
    'nova_object.name': 'InstanceActionPayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.8',
    'nova_object.data': instanceActionData(input, fault),
  };
}

/** instance.create.*: adds keypairs, tags, trusted certs (none known) and the libvirt name. */
export function instanceCreatePayload(input: PayloadInput, fault: ExceptionPayload | null): InstanceCreatePayload {
  return {
    'nova_object.name': 'InstanceCreatePayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.12',
    'nova_object.data': {
      ...instanceActionData(input, fault),
      keypairs: [],
      tags: [],
      trusted_image_certificates: null,
      instance_name: input.facts.name,
    },
  };
}

/** instance.volume_attach.* / volume_detach.*: adds the volume id. */
export function instanceActionVolumePayload(
  input: PayloadInput,
  fault: ExceptionPayload | null,
  volumeId: string,
): InstanceActionVolumePayload {
  return {
    'nova_object.name': 'InstanceActionVolumePayload',
    'nova_object.namespace': 'nova',
    'nova_object.version': '1.6',
    'nova_object.data': { ...instanceActionData(input, fault), volume_id: volumeId },
  };
}
