/**
 * Field schemas shared by several intent kinds. Names follow OpenStack's
 * snake_case (docs/design.md#intents-and-versions); they are the contract clients code against.
 * Bounds are deliberate: every string and array has a maximum so a hostile
 * message cannot make the worker allocate without limit.
 */
import { z } from 'zod';

/** An id made of safe characters. */
const SafeId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, ".", "_", ":" or "-"');

const UUID_SHAPE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Resource ids are canonical from validation on: they become lock keys
 * (`instance:<uuid>`, `volume:<id>`, `port:<id>`), and an id spelt another way
 * would take another lane and run beside the intent it should wait for
 * (issue 15: an upper-case uuid ran beside the spawn of its instance). A uuid
 * is case-insensitive (RFC 4122), so it is kept in lower case, as OpenStack
 * writes it; any other id is exact as sent.
 */
const canonicalId = (id: string): string => (UUID_SHAPE.test(id) ? id.toLowerCase() : id);

/** A Neutron or Cinder id (a uuid, in lower case from here on; any other safe id as sent). */
export const ResourceId = SafeId.overwrite(canonicalId);

/** Nova instance uuid (any RFC 4122 layout, any case; lower case from here on). */
export const InstanceUuid = z.guid().toLowerCase().describe('Nova instance uuid');

/** Not a resource: compared exactly, never made canonical. */
export const IntentId = SafeId.describe(
  'Idempotency key; defaults to the oslo _unique_id of the message',
);

export const MacAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address like fa:16:3e:00:00:01');

export const Flavor = z.strictObject({
  vcpus: z.int().min(1).max(1024),
  memory_mb: z.int().min(1).max(16 * 1024 * 1024),
  root_gb: z.int().min(0).max(1024 * 1024),
});

export const Image = z.strictObject({
  id: z.string().min(1).max(128).optional(),
  path: z.string().min(1).max(4096).optional(),
});

export const VifType = z.enum(['bridge', 'ovs', 'tap', 'ethernet', 'vhostuser']);

export const Network = z.strictObject({
  bridge: z.string().min(1).max(64),
  mtu: z.int().min(68).max(65535).optional(),
});

/** A Neutron port as the host needs it (os-vif's VIF, flattened). */
export const Port = z.strictObject({
  port_id: ResourceId,
  mac_address: MacAddress,
  vif_type: VifType,
  network: Network,
  vnic_type: z.enum(['normal', 'direct', 'macvtap', 'direct-physical', 'baremetal', 'virtio-forwarder', 'remote-managed', 'vdpa']).optional(),
});

/**
 * Cinder's connection_info as os-brick receives it: the `data` keys depend on
 * `driver_volume_type`, so they are checked by the driver that consumes them.
 */
export const ConnectionInfo = z.strictObject({
  driver_volume_type: z.string().min(1).max(64),
  data: z.record(z.string().max(256), z.unknown()),
});

/**
 * Nova's bounds on instance metadata (its API schema: keys of 1 to 255
 * characters, values of at most 255; the `metadata_items` quota: 128 items),
 * so the worker never keeps more per guest than Nova would let a user set:
 * at most ~64 KB, held in memory and in the domain definition for the guest's
 * life.
 */
export const METADATA_LIMITS = { items: 128, keyChars: 255, valueChars: 255 } as const;

export const Metadata = z
  .record(z.string().min(1).max(METADATA_LIMITS.keyChars), z.string().max(METADATA_LIMITS.valueChars))
  .refine((m) => Object.keys(m).length <= METADATA_LIMITS.items, { message: `at most ${METADATA_LIMITS.items} items (Nova's metadata_items quota)` })
  .meta({ maxProperties: METADATA_LIMITS.items })
  .describe("Nova's instance metadata: at most 128 items, keys of 1 to 255 characters, values of at most 255");

export const VolumeRef = z.strictObject({
  volume_id: ResourceId,
  connection_info: ConnectionInfo,
});

/** Guest device name as Nova writes it: vdb or /dev/vdb. */
export const DeviceName = z.string().regex(/^(\/dev\/)?[a-z]{2,3}[a-z]{1,2}$/, 'must be a device name like vdb or /dev/vdb');

export type Port = z.infer<typeof Port>;
export type ConnectionInfo = z.infer<typeof ConnectionInfo>;
export type Flavor = z.infer<typeof Flavor>;
