/**
 * Intent payloads (the oslo `args`), version 1.0 of every kind of DESIGN §3.
 * Strict: an unknown key is an error, so a typo never silently does nothing.
 */
import { z } from 'zod';
import {
  ConnectionInfo, DeviceName, Flavor, Image, InstanceUuid, IntentId, Port, ResourceId, VolumeRef,
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
  metadata: z.record(z.string().max(255), z.string().max(65535)).optional(),
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

export const VolumeAttachV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  volume_id: ResourceId,
  connection_info: ConnectionInfo,
  device_name: DeviceName.optional(),
});

export const VolumeDetachV1 = z.strictObject({ ...base, instance_uuid: InstanceUuid, volume_id: ResourceId });

export const PortPlugV1 = z.strictObject({ ...base, instance_uuid: InstanceUuid, port: Port });

export const PortUnplugV1 = z.strictObject({ ...base, instance_uuid: InstanceUuid, port_id: ResourceId });

export const PortReadyV1 = z.strictObject({
  ...base,
  port_id: ResourceId,
  status: z.enum(['completed', 'failed']).default('completed'),
});

export const HostQueryV1 = z.strictObject({ ...base });

/** Every kind's current schema; the registry adds lock keys, issuers and versions. */
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
  'volume.attach': VolumeAttachV1,
  'volume.detach': VolumeDetachV1,
  'port.plug': PortPlugV1,
  'port.unplug': PortUnplugV1,
  'port.ready': PortReadyV1,
  'host.connector': HostQueryV1,
  'host.inventory': HostQueryV1,
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
