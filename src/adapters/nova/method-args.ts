/**
 * The `args` of each Nova compute RPC method hostwall translates, as Zed's
 * ComputeAPI client sends them (compute/rpcapi.py; identical in the 5.x and
 * 6.x forms for these methods). Loose: an argument a later Nova adds is
 * carried unread rather than refused; the ones hostwall uses are checked.
 */
import { z } from 'zod';
import {
  BlockDeviceMapping, BlockDeviceMappingList, Flavor, Instance, InstanceExternalEvent, NetworkRequestList, RequestSpec,
} from './objects';

const nullableString = z.string().max(255).nullable().optional();
const withInstance = { instance: Instance };

export const InstanceOnlyArgs = z.looseObject(withInstance);

export const BuildAndRunInstanceArgs = z.looseObject({
  ...withInstance,
  // The glance image dict of the API (boot_meta); for boot from volume it has no id.
  image: z.looseObject({ id: nullableString }).nullable().optional(),
  request_spec: RequestSpec.nullable().optional(),
  // Before Nova 3.36 the flavor travelled here as instance_type; Zed's filter_properties has none.
  filter_properties: z.looseObject({ instance_type: Flavor.optional() }).nullable().optional(),
  admin_password: z.string().nullable().optional(),
  injected_files: z.array(z.unknown()).nullable().optional(),
  requested_networks: NetworkRequestList.nullable().optional(),
  block_device_mapping: BlockDeviceMappingList.nullable().optional(),
  node: nullableString,
  accel_uuids: z.array(z.string()).nullable().optional(),
});

export const TerminateInstanceArgs = z.looseObject({ ...withInstance, bdms: BlockDeviceMappingList.nullable().optional() });

export const StopInstanceArgs = z.looseObject({ ...withInstance, clean_shutdown: z.boolean().default(true) });

export const RebootInstanceArgs = z.looseObject({
  ...withInstance,
  reboot_type: z.enum(['SOFT', 'HARD']),
  block_device_info: z.unknown().optional(),
});

export const AttachVolumeArgs = z.looseObject({ ...withInstance, bdm: BlockDeviceMapping });

export const DetachVolumeArgs = z.looseObject({
  ...withInstance,
  volume_id: z.string().min(1).max(128),
  attachment_id: nullableString,
});

export const ReserveBlockDeviceNameArgs = z.looseObject({
  ...withInstance,
  device: nullableString,
  volume_id: z.string().min(1).max(128),
  disk_bus: nullableString,
  device_type: nullableString,
  tag: nullableString,
  multiattach: z.boolean().nullable().optional(),
});

export const AttachInterfaceArgs = z.looseObject({
  ...withInstance,
  network_id: nullableString,
  port_id: z.guid().nullable().optional(),
  requested_ip: nullableString,
  tag: nullableString,
});

export const DetachInterfaceArgs = z.looseObject({ ...withInstance, port_id: z.string().min(1).max(128) });

export const ExternalInstanceEventArgs = z.looseObject({
  instances: z.array(Instance).min(1).max(1000),
  events: z.array(InstanceExternalEvent).min(1).max(1000),
});

export const GetConsoleOutputArgs = z.looseObject({
  ...withInstance,
  // The API passes an int or None; the manager does int(tail_length), so digits in a string work too.
  tail_length: z
    .union([z.int().min(0), z.string().regex(/^\d{1,9}$/).transform(Number)])
    .nullable()
    .optional(),
});

export const GetHostUptimeArgs = z.looseObject({});

export type BuildAndRunInstanceArgs = z.output<typeof BuildAndRunInstanceArgs>;
export type ExternalInstanceEventArgs = z.output<typeof ExternalInstanceEventArgs>;
