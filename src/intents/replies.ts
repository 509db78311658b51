/**
 * What a call gets back (the oslo reply's `result`) when the outcome is final.
 * Failures travel as oslo's failure form instead, never in these shapes.
 */
import { z } from 'zod';
import { DeviceName } from './fields';
import { type IntentKind, RecordedState } from './kinds';
import { InstanceState } from './states';

export const HostInventory = z.strictObject({
  vcpus: z.int(),
  memory_mb: z.int(),
  disk_gb: z.int(),
  instances: z.int(),
  hypervisor_type: z.string(),
  hypervisor_version: z.int(),
});

/** os-brick get_connector_properties, the keys Cinder needs from a libvirt host. */
export const HostConnector = z.object({
  host: z.string(),
  ip: z.string(),
  initiator: z.string().optional(),
  multipath: z.boolean(),
  enforce_multipath: z.boolean().optional(),
  platform: z.string(),
  os_type: z.string(),
  do_local_attach: z.boolean().optional(),
});

/** The outcome of an intent that changed (or would have changed) the host. */
export const ActionResult = z.strictObject({
  intent_id: z.string(),
  kind: z.string(),
  outcome: z.literal('succeeded'),
  instance: InstanceState.optional(),
  /** Device intents: false where the hypervisor changed only the persistent definition. */
  live: z.boolean().optional(),
  device: z.string().optional(),
  /** power_off: true when the clean shutdown timed out and the guest was forced off. */
  forced: z.boolean().optional(),
  /** destroy: false when there was nothing to destroy (idempotent). */
  existed: z.boolean().optional(),
});

export const PortReadyResult = z.strictObject({
  intent_id: z.string(),
  kind: z.literal('port.ready'),
  outcome: z.literal('succeeded'),
  port_id: z.string(),
  status: z.enum(['completed', 'failed']),
  /** true when a spawn was waiting for this port; false when it is remembered for later. */
  waiter: z.boolean(),
});

/** volume.reserve_device: the name held for the volume until its volume.attach. */
export const ReservedDevice = z.strictObject({
  intent_id: z.string(),
  kind: z.literal('volume.reserve_device'),
  outcome: z.literal('succeeded'),
  instance_uuid: z.string(),
  volume_id: z.string(),
  /** As Nova stores it: /dev/vdb. */
  device_name: DeviceName,
});

/** instance.console_output: the guest's console log as Nova's get_console_output returns it. */
export const ConsoleOutput = z.strictObject({ output: z.string() });

/** host.uptime: the host's `uptime` line, as Nova's get_host_uptime returns it. */
export const HostUptime = z.strictObject({ uptime: z.string() });

const isoOrNull = z.string().nullable();

/** host.intents: one intent as the worker's intent store has it (times in ISO 8601). */
export const RecordedIntent = z.strictObject({
  intent_id: z.string(),
  kind: z.string(),
  instance_uuid: z.string().nullable(),
  state: RecordedState,
  received_at: z.string(),
  started_at: isoOrNull,
  finished_at: isoOrNull,
  /** finished_at - started_at; null while it runs. */
  duration_ms: z.int().nullable(),
  /** The failure of a failed intent; null otherwise. */
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});
export const RecordedIntents = z.array(RecordedIntent);
/** host.intents with `paged` (1.1): one page, newest first. */
export const RecordedIntentsPage = z.strictObject({
  intents: RecordedIntents,
  /** More rows match than this page holds (the limit or max_bytes stopped it). */
  more: z.boolean(),
  /** With `more`: the cursor to pass as `before` for the next page; null otherwise. */
  next: z.string().nullable(),
});

export const REPLY_SCHEMAS: Record<IntentKind, z.ZodType> = {
  'instance.spawn': ActionResult,
  'instance.destroy': ActionResult,
  'instance.power_on': ActionResult,
  'instance.power_off': ActionResult,
  'instance.reboot': ActionResult,
  'instance.pause': ActionResult,
  'instance.unpause': ActionResult,
  'instance.suspend': ActionResult,
  'instance.resume': ActionResult,
  'instance.get_state': InstanceState,
  'instance.console_output': ConsoleOutput,
  'volume.attach': ActionResult,
  'volume.detach': ActionResult,
  'volume.reserve_device': ReservedDevice,
  'volume.extend': ActionResult,
  'port.plug': ActionResult,
  'port.unplug': ActionResult,
  'port.ready': PortReadyResult,
  'host.connector': HostConnector,
  'host.inventory': HostInventory,
  'host.uptime': HostUptime,
  'host.intents': z.union([RecordedIntents, RecordedIntentsPage]).describe('1.0, or 1.1 without paged: the array; 1.1 with paged: the page'),
};

/** Replies of earlier versions that differ from REPLY_SCHEMAS (the newest), by kind and version. */
const EARLIER_REPLY_SCHEMAS: Partial<Record<IntentKind, Readonly<Record<string, z.ZodType>>>> = {
  'host.intents': { '1.0': RecordedIntents },
};

/** The reply schema of one version of a kind ("1.0"). */
export function replySchemaOf(kind: IntentKind, version: string): z.ZodType {
  return EARLIER_REPLY_SCHEMAS[kind]?.[version] ?? REPLY_SCHEMAS[kind];
}

export type HostInventory = z.infer<typeof HostInventory>;
export type HostConnector = z.infer<typeof HostConnector>;
export type ActionResult = z.infer<typeof ActionResult>;
export type PortReadyResult = z.infer<typeof PortReadyResult>;
export type ReservedDevice = z.infer<typeof ReservedDevice>;
export type ConsoleOutput = z.infer<typeof ConsoleOutput>;
export type HostUptime = z.infer<typeof HostUptime>;
export type RecordedIntent = z.infer<typeof RecordedIntent>;
export type RecordedIntentsPage = z.infer<typeof RecordedIntentsPage>;
