/**
 * Intent payloads (the oslo `args`) of every kind, per version. Strict: an
 * unknown key is an error, so a typo never silently does nothing.
 *
 * Versions: a kind's first schema is 1.0; a later minor only adds optional
 * fields (docs/design.md#intents-and-versions: add freely, rename none), so a message of an older minor
 * parses, under that minor's own schema, to a value the newest one also
 * describes: "upgrading" it in code is the identity. INTENT_SCHEMAS holds each
 * kind's newest schema (what the layers above the wire are typed by, and what
 * `hostwall send` validates against); INTENT_VERSIONS every published one.
 */
import { z } from 'zod';
import {
  ConnectionInfo, DeviceName, Flavor, Image, InstanceUuid, IntentId, Metadata, Port, ResourceId, VolumeRef,
} from './fields';

const base = { intent_id: IntentId.optional() };
const instanceOnly = z.strictObject({ ...base, instance_uuid: InstanceUuid });

export const SpawnV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  name: z.string().min(1).max(255),
  flavor: Flavor,
  image: Image.optional(),
  ports: z.array(Port).max(32).optional(),
  volumes: z.array(VolumeRef).max(64).optional(),
  metadata: Metadata.optional(),
  wait_for_ports: z.boolean().optional().describe('default: true when ports are given'),
});

export const DestroyV1 = z.strictObject({ ...base, instance_uuid: InstanceUuid, keep_disks: z.boolean().optional() });

export const PowerOffV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  clean: z.boolean().default(true),
  timeout_s: z.int().min(0).max(3600).default(60),
});

export const RebootV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  type: z.enum(['soft', 'hard']).default('soft'),
});

/** Nova's DiskBus values (nova/objects/fields.py); which ones a driver can give is the driver's business. */
export const DiskBus = z.enum(['virtio', 'scsi', 'ide', 'sata', 'usb', 'xen', 'fdc', 'uml', 'lxc']);
/** Nova's BlockDeviceType values. */
export const DeviceType = z.enum(['disk', 'cdrom', 'floppy', 'fs', 'lun']);
/** A device tag as Nova's API accepts it (at most 60 characters, no "," or "/"). */
export const DeviceTag = z.string().min(1).max(60).regex(/^[^,/]*$/, 'must not contain "," or "/"');
const AttachmentId = ResourceId.describe("Cinder's attachment id (Nova's block device mapping attachment_id)");

export const VolumeAttachV1_0 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  volume_id: ResourceId,
  connection_info: ConnectionInfo,
  device_name: DeviceName.optional(),
});

/** 1.1: what Nova's attach_volume carries besides the connection (the block device mapping's fields). */
export const VolumeAttachV1_1 = VolumeAttachV1_0.extend({
  attachment_id: AttachmentId.optional(),
  disk_bus: DiskBus.optional().describe('the guest bus; absent: the one the device name implies (vd: virtio)'),
  device_type: DeviceType.optional().describe('default disk'),
  tag: DeviceTag.optional().describe("Nova's device tag (served to the guest by Nova's metadata); no host effect"),
});

export const VolumeDetachV1_0 = z.strictObject({ ...base, instance_uuid: InstanceUuid, volume_id: ResourceId });

/** 1.1: Nova's detach_volume names the Cinder attachment it ends. */
export const VolumeDetachV1_1 = VolumeDetachV1_0.extend({ attachment_id: AttachmentId.optional() });

/**
 * Pick (or confirm) the guest device name a volume will get and hold it until
 * the volume.attach of that volume uses it (Nova's reserve_block_device_name):
 * two reservations on one instance never get the same name.
 */
export const VolumeReserveDeviceV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  volume_id: ResourceId,
  device_name: DeviceName.optional().describe('the name asked for; taken if free, else the next free one'),
  disk_bus: DiskBus.optional(),
  device_type: DeviceType.optional(),
  tag: DeviceTag.optional(),
  multiattach: z.boolean().optional(),
});

/** An attached volume grew (Cinder extended it): tell the guest. */
export const VolumeExtendV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  volume_id: ResourceId,
  new_size_bytes: z.int().positive().optional().describe('absent: the driver reads the size from the host device'),
});

export const PortPlugV1 = z.strictObject({ ...base, instance_uuid: InstanceUuid, port: Port });

export const PortUnplugV1 = z.strictObject({ ...base, instance_uuid: InstanceUuid, port_id: ResourceId });

export const PortReadyV1 = z.strictObject({
  ...base,
  port_id: ResourceId,
  status: z.enum(['completed', 'failed']).default('completed'),
});

export const ConsoleOutputV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  tail_length: z.int().min(0).max(100_000).optional().describe('the last N lines; absent: the whole log (its last 100 KiB)'),
});

export const HostQueryV1 = z.strictObject({ ...base });

/** The states of an intent in the worker's intent store. */
export const RecordedState = z.enum(['started', 'succeeded', 'failed', 'retry']);

/** What the worker's intent store holds, newest first (an operator's question). */
export const HostIntentsV1_0 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid.optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('received at or after this time (ISO 8601); absent: everything kept'),
  state: RecordedState.optional(),
  limit: z.int().min(1).max(1000).default(100),
});

/** The default and the bounds of host.intents' max_bytes: a reply stays far below any broker's max message size. */
export const HOST_INTENTS_MAX_BYTES = { default: 1024 * 1024, min: 16 * 1024, max: 8 * 1024 * 1024 } as const;

/**
 * 1.1: pages. Every reply stops before its rows pass `max_bytes` (1.0's
 * array too, silently: ask for pages to know). With `paged`, the reply says
 * whether there is `more` and gives the cursor of the `next` page, which
 * `before` takes.
 */
export const HostIntentsV1_1 = HostIntentsV1_0.extend({
  paged: z.boolean().optional().describe('reply {intents, more, next} instead of the bare array'),
  max_bytes: z.int().min(HOST_INTENTS_MAX_BYTES.min).max(HOST_INTENTS_MAX_BYTES.max).optional()
    .describe(`the rows of one reply stop before their JSON passes this many bytes (default ${HOST_INTENTS_MAX_BYTES.default})`),
  before: z.string().regex(/^\d{1,16}\.\d{1,19}$/, 'must be the `next` of an earlier page').optional()
    .describe('the `next` cursor of the previous page: rows older than its last one'),
});

/** Every kind's newest schema; the registry adds lock keys, issuers and versions. */
export const INTENT_SCHEMAS = {
  'instance.spawn': SpawnV1,
  'instance.destroy': DestroyV1,
  'instance.power_on': instanceOnly,
  'instance.power_off': PowerOffV1,
  'instance.reboot': RebootV1,
  'instance.pause': instanceOnly,
  'instance.unpause': instanceOnly,
  'instance.suspend': instanceOnly,
  'instance.resume': instanceOnly,
  'instance.get_state': instanceOnly,
  'instance.console_output': ConsoleOutputV1,
  'volume.attach': VolumeAttachV1_1,
  'volume.detach': VolumeDetachV1_1,
  'volume.reserve_device': VolumeReserveDeviceV1,
  'volume.extend': VolumeExtendV1,
  'port.plug': PortPlugV1,
  'port.unplug': PortUnplugV1,
  'port.ready': PortReadyV1,
  'host.connector': HostQueryV1,
  'host.inventory': HostQueryV1,
  'host.uptime': HostQueryV1,
  'host.intents': HostIntentsV1_1,
} as const;

export type IntentKind = keyof typeof INTENT_SCHEMAS;
export type IntentArgs<K extends IntentKind> = z.output<(typeof INTENT_SCHEMAS)[K]>;

/** A validated intent: the discriminated union every layer above the wire uses. */
export type Intent = { [K in IntentKind]: { kind: K; args: IntentArgs<K> } }[IntentKind];
export type IntentOf<K extends IntentKind> = Extract<Intent, { kind: K }>;

export type SpawnArgs = IntentArgs<'instance.spawn'>;

export const INTENT_KINDS = Object.keys(INTENT_SCHEMAS) as IntentKind[];

export function isIntentKind(s: string): s is IntentKind {
  return Object.hasOwn(INTENT_SCHEMAS, s);
}

export interface PublishedVersion {
  readonly major: number;
  readonly minor: number;
  readonly schema: z.ZodType;
}

/**
 * Minors published before the newest, per kind (oldest first). Each stays
 * exported (schemas/<kind>/<version>.json) and validates the messages that
 * name it; the newest is INTENT_SCHEMAS[kind].
 */
const EARLIER: Partial<Record<IntentKind, readonly PublishedVersion[]>> = {
  'volume.attach': [{ major: 1, minor: 0, schema: VolumeAttachV1_0 }],
  'volume.detach': [{ major: 1, minor: 0, schema: VolumeDetachV1_0 }],
  'host.intents': [{ major: 1, minor: 0, schema: HostIntentsV1_0 }],
};

/** The newest version of each kind that is not 1.0. */
const NEWEST: Partial<Record<IntentKind, { major: number; minor: number }>> = {
  'volume.attach': { major: 1, minor: 1 },
  'volume.detach': { major: 1, minor: 1 },
  'host.intents': { major: 1, minor: 1 },
};

/** Every published version of `kind`, oldest first; the last one is INTENT_SCHEMAS[kind]. */
export function publishedVersions(kind: IntentKind): readonly PublishedVersion[] {
  const newest = NEWEST[kind] ?? { major: 1, minor: 0 };
  return [...(EARLIER[kind] ?? []), { ...newest, schema: INTENT_SCHEMAS[kind] }];
}
