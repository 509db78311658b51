/**
 * BlockDeviceMapping 1.x and its list, and the connection_info a volume BDM
 * may carry (a JSON string, as Nova stores it).
 *
 * In Zed a BDM reaches the compute host *without* connection_info on both
 * paths hostwall serves: attach_volume carries only the Cinder attachment_id
 * (compute/api.py _check_attach_and_reserve_volume), and a boot's volume BDMs
 * likewise; nova-compute fetches connection_info from Cinder's
 * attachment_update with its own connector. So connection_info is optional
 * here and parsed only when present.
 */
import { z } from 'zod';
import { jsonString, novaObject, novaObjectList } from './nova-object';

const nullableString = z.string().max(255).nullable().optional();

/**
 * Cinder's connection_info: `driver_volume_type` and `data` are what the host
 * needs; Nova and Cinder add more top-level keys (`serial`, `multiattach`,
 * `attachment_id`, `status`, ...), which are carried unread.
 */
export const NovaConnectionInfo = z.looseObject({
  driver_volume_type: z.string().min(1).max(64),
  data: z.record(z.string().max(256), z.unknown()),
});

export const BlockDeviceMapping = novaObject(
  'BlockDeviceMapping',
  1,
  z.looseObject({
    id: z.int().optional(),
    instance_uuid: z.guid().optional(),
    source_type: z.enum(['image', 'volume', 'snapshot', 'blank']).nullable().optional(),
    destination_type: z.enum(['local', 'volume']).nullable().optional(),
    volume_id: nullableString,
    attachment_id: nullableString,
    device_name: nullableString,
    boot_index: z.int().nullable().optional(),
    disk_bus: nullableString,
    device_type: nullableString,
    guest_format: nullableString,
    tag: nullableString,
    volume_size: z.int().nullable().optional(),
    delete_on_termination: z.boolean().nullable().optional(),
    connection_info: jsonString(NovaConnectionInfo).nullable().optional(),
  }),
);

export const BlockDeviceMappingList = novaObjectList('BlockDeviceMappingList', 1, BlockDeviceMapping);

export type NovaConnectionInfo = z.output<typeof NovaConnectionInfo>;
export type BlockDeviceMapping = z.output<typeof BlockDeviceMapping>;
export type BlockDeviceMappingList = z.output<typeof BlockDeviceMappingList>;
