/**
 * Nova's versioned notification payloads (Nova 26 "Zed",
 * nova/notifications/objects/{instance,flavor,keypair,exception}.py), as
 * their `obj_to_primitive()` form: every field Nova defines, nullable exactly
 * where Nova's field is, at the VERSION Zed emits.
 *
 * Nova emits every field (its payload constructors set all of them, unknown
 * ones to None) and resets the change list before emitting, so there is no
 * `nova_object.changes` key, at any depth. test/compat/nova-payload.test.ts
 * checks these shapes against Debian's python3-nova.
 */
import { z } from 'zod';

/** `NovaObject.obj_to_primitive()`: name, namespace, version, data (in that order). */
function ovo<N extends string, V extends string, D extends z.ZodType>(name: N, version: V, data: D) {
  return z.strictObject({
    'nova_object.name': z.literal(name),
    'nova_object.namespace': z.literal('nova'),
    'nova_object.version': z.literal(version),
    'nova_object.data': data,
  });
}

/** oslo.versionedobjects DateTimeField: `%Y-%m-%dT%H:%M:%SZ`, whole seconds, UTC. */
export const NovaDateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

/** nova.objects.fields.InstanceTaskState.ALL (Zed). */
export const NovaTaskState = z.enum([
  'scheduling', 'block_device_mapping', 'networking', 'spawning', 'image_snapshot', 'image_snapshot_pending',
  'image_pending_upload', 'image_uploading', 'image_backup', 'updating_password', 'resize_prep', 'resize_migrating',
  'resize_migrated', 'resize_finish', 'resize_reverting', 'resize_confirming', 'rebooting', 'reboot_pending',
  'reboot_started', 'rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard', 'pausing', 'unpausing',
  'suspending', 'resuming', 'powering-off', 'powering-on', 'rescuing', 'unrescuing', 'rebuilding',
  'rebuild_block_device_mapping', 'rebuild_spawning', 'migrating', 'deleting', 'soft-deleting', 'restoring',
  'shelving', 'shelving_image_pending_upload', 'shelving_image_uploading', 'shelving_offloading', 'unshelving',
]);

/** nova.objects.fields.InstanceState.ALL (Zed): the payload's `state`. */
export const NovaVmState = z.enum([
  'active', 'building', 'paused', 'suspended', 'stopped', 'rescued', 'resized', 'soft-delete', 'deleted', 'error',
  'shelved', 'shelved_offloaded',
]);

/** nova.objects.fields.InstancePowerState (the names; codes 2 and 5 are unused). */
export const NovaPowerState = z.enum(['pending', 'running', 'paused', 'shutdown', 'crashed', 'suspended']);

const Str = z.string();
const Int = z.int();
const StrDict = z.record(z.string(), z.string());

export const FlavorPayload = ovo('FlavorPayload', '1.4', z.strictObject({
  flavorid: Str.nullable(),
  memory_mb: Int.nullable(),
  vcpus: Int.nullable(),
  root_gb: Int.nullable(),
  ephemeral_gb: Int.nullable(),
  name: Str,
  swap: Int,
  rxtx_factor: z.number().nullable(),
  vcpu_weight: Int.nullable(),
  disabled: z.boolean(),
  is_public: z.boolean(),
  extra_specs: StrDict.nullable(),
  projects: z.array(Str).nullable(),
  description: Str.nullable(),
}));

export const IpPayload = ovo('IpPayload', '1.0', z.strictObject({
  label: Str,
  mac: Str,
  meta: StrDict,
  port_uuid: Str.nullable(),
  version: Int,
  address: Str,
  device_name: Str.nullable(),
}));

export const BlockDevicePayload = ovo('BlockDevicePayload', '1.0', z.strictObject({
  device_name: Str.nullable(),
  boot_index: Int.nullable(),
  delete_on_termination: z.boolean(),
  volume_id: Str,
  tag: Str.nullable(),
}));

export const ExceptionPayload = ovo('ExceptionPayload', '1.1', z.strictObject({
  module_name: Str,
  function_name: Str,
  exception: Str,
  exception_message: Str,
  traceback: Str,
}));

export const KeypairPayload = ovo('KeypairPayload', '1.0', z.strictObject({
  user_id: Str.nullable(),
  name: Str,
  fingerprint: Str.nullable(),
  public_key: Str.nullable(),
  type: Str,
}));

/** InstancePayload 1.8: the common base of every instance.* payload. */
const instanceFields = {
  uuid: Str,
  user_id: Str.nullable(),
  tenant_id: Str.nullable(),
  reservation_id: Str.nullable(),
  display_name: Str.nullable(),
  display_description: Str.nullable(),
  host_name: Str.nullable(),
  host: Str.nullable(),
  node: Str.nullable(),
  os_type: Str.nullable(),
  architecture: Str.nullable(),
  availability_zone: Str.nullable(),
  flavor: FlavorPayload,
  image_uuid: Str.nullable(),
  key_name: Str.nullable(),
  kernel_id: Str.nullable(),
  ramdisk_id: Str.nullable(),
  created_at: NovaDateTime.nullable(),
  launched_at: NovaDateTime.nullable(),
  terminated_at: NovaDateTime.nullable(),
  deleted_at: NovaDateTime.nullable(),
  updated_at: NovaDateTime.nullable(),
  state: NovaVmState.nullable(),
  power_state: NovaPowerState.nullable(),
  task_state: NovaTaskState.nullable(),
  progress: Int.nullable(),
  ip_addresses: z.array(IpPayload),
  block_devices: z.array(BlockDevicePayload).nullable(),
  metadata: StrDict,
  locked: z.boolean(),
  auto_disk_config: z.enum(['MANUAL', 'AUTO']),
  request_id: Str.nullable(),
  action_initiator_user: Str.nullable(),
  action_initiator_project: Str.nullable(),
  locked_reason: Str.nullable(),
};

/** InstanceActionPayload 1.8 adds `fault`: an ExceptionPayload on `.error`, else null. */
const actionFields = { ...instanceFields, fault: ExceptionPayload.nullable() };

export const InstanceActionData = z.strictObject(actionFields);
export const InstanceActionPayload = ovo('InstanceActionPayload', '1.8', InstanceActionData);

export const InstanceCreateData = z.strictObject({
  ...actionFields,
  keypairs: z.array(KeypairPayload),
  tags: z.array(Str),
  trusted_image_certificates: z.array(Str).nullable(),
  instance_name: Str.nullable(),
});
export const InstanceCreatePayload = ovo('InstanceCreatePayload', '1.12', InstanceCreateData);

export const InstanceActionVolumeData = z.strictObject({ ...actionFields, volume_id: Str });
export const InstanceActionVolumePayload = ovo('InstanceActionVolumePayload', '1.6', InstanceActionVolumeData);

export const VersionedPayload = z.union([
  InstanceActionPayload, InstanceCreatePayload, InstanceActionVolumePayload, ExceptionPayload,
]);

export type NovaTaskState = z.infer<typeof NovaTaskState>;
export type NovaVmState = z.infer<typeof NovaVmState>;
export type FlavorPayload = z.infer<typeof FlavorPayload>;
export type BlockDevicePayload = z.infer<typeof BlockDevicePayload>;
export type ExceptionPayload = z.infer<typeof ExceptionPayload>;
export type InstanceActionData = z.infer<typeof InstanceActionData>;
export type InstanceActionPayload = z.infer<typeof InstanceActionPayload>;
export type InstanceCreatePayload = z.infer<typeof InstanceCreatePayload>;
export type InstanceActionVolumePayload = z.infer<typeof InstanceActionVolumePayload>;
export type VersionedPayload = z.infer<typeof VersionedPayload>;
