/**
 * The Nova objects hostwall reads from compute RPC arguments (Zed versions in
 * brackets): Instance 2.x (2.7), Flavor 1.x (1.2), InstanceInfoCache 1.x
 * (1.5), ImageMeta 1.x (1.8) with ImageMetaProps 1.x (1.34), RequestSpec 1.x
 * (1.14), InstanceExternalEvent 1.x (1.5); BlockDeviceMapping and
 * NetworkRequest live in their own files and are re-exported here.
 *
 * Rule: loose on fields hostwall does not use (they pass through unread, so a
 * newer minor never breaks us), strict on the ones it does: a uuid must be a
 * uuid, a flavor's sizes integers, an event's status one of Nova's three.
 */
import { z } from 'zod';
import { jsonString, novaObject } from './nova-object';
import { VifModel } from './network-info';

export * from './block-devices';
export * from './network-info';
export { decodeNova, jsonString, type NovaObject, novaObject, novaObjectList } from './nova-object';

const nullableString = z.string().max(255).nullable().optional();
const size = z.int().nonnegative();

export const Flavor = novaObject(
  'Flavor',
  1,
  z.looseObject({
    vcpus: size,
    memory_mb: size,
    root_gb: size,
    ephemeral_gb: size.optional(),
    swap: size.optional(),
    name: nullableString,
    flavorid: nullableString,
    extra_specs: z.record(z.string(), z.string()).nullable().optional(),
  }),
);

/** network_info is the JSON of a NetworkInfo (a list of VIFs); "[]" before ports are bound. */
export const InstanceInfoCache = novaObject(
  'InstanceInfoCache',
  1,
  z.looseObject({
    instance_uuid: z.guid().optional(),
    network_info: jsonString(z.array(VifModel).max(64)).nullable().optional(),
  }),
);

export const Instance = novaObject(
  'Instance',
  2,
  z.looseObject({
    uuid: z.guid(),
    // The DB id: with CONF.instance_name_template ("instance-%08x") it names the guest.
    id: z.int().nonnegative().optional(),
    display_name: nullableString,
    hostname: nullableString,
    host: nullableString,
    node: nullableString,
    vm_state: nullableString,
    task_state: nullableString,
    power_state: z.int().nullable().optional(),
    image_ref: nullableString,
    flavor: Flavor.nullable().optional(),
    // Legacy copies of the flavor's sizes, still set on every instance.
    vcpus: size.nullable().optional(),
    memory_mb: size.nullable().optional(),
    root_gb: size.nullable().optional(),
    ephemeral_gb: size.nullable().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    system_metadata: z.record(z.string(), z.string().nullable()).optional(),
    info_cache: InstanceInfoCache.nullable().optional(),
    config_drive: z.string().nullable().optional(),
    user_data: z.string().nullable().optional(),
    root_device_name: nullableString,
  }),
);

export const ImageMetaProps = novaObject('ImageMetaProps', 1, z.looseObject({}));

export const ImageMeta = novaObject(
  'ImageMeta',
  1,
  z.looseObject({
    id: nullableString,
    name: nullableString,
    disk_format: nullableString,
    properties: ImageMetaProps.optional(),
  }),
);

export const RequestSpec = novaObject(
  'RequestSpec',
  1,
  z.looseObject({
    instance_uuid: z.guid().optional(),
    flavor: Flavor.optional(),
    image: ImageMeta.nullable().optional(),
    is_bfv: z.boolean().optional(),
  }),
);

/** InstanceExternalEvent 1.x; `name` is checked by the translation so an unknown one is refused by name. */
export const InstanceExternalEvent = novaObject(
  'InstanceExternalEvent',
  1,
  z.looseObject({
    instance_uuid: z.guid(),
    name: z.string().min(1).max(64),
    status: z.enum(['failed', 'completed', 'in-progress']),
    tag: nullableString,
    data: z.record(z.string(), z.unknown()).nullable().optional(),
  }),
);

export type Flavor = z.output<typeof Flavor>;
export type InstanceInfoCache = z.output<typeof InstanceInfoCache>;
export type Instance = z.output<typeof Instance>;
export type ImageMeta = z.output<typeof ImageMeta>;
export type RequestSpec = z.output<typeof RequestSpec>;
export type InstanceExternalEvent = z.output<typeof InstanceExternalEvent>;
