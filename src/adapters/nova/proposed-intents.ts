/**
 * Intent kinds the Nova adapter needs that src/intents does not have yet.
 *
 * They are written exactly as they would be registered (strict zod schema of
 * version 1.0, the reply a call gets, lock keys and scheduling), so wiring
 * them is: move each schema into INTENT_SCHEMAS / REPLY_SCHEMAS and the table
 * in registry.ts, then replace `proposeIntent` with `validateIntent`. Until
 * then the dispatcher can tell them apart with `isProposedIntent` and refuse
 * them as NOT_SUPPORTED.
 */
import { z } from 'zod';
import { RejectedError } from '../../errors';
import { DeviceName, InstanceUuid, type Intent, IntentId, ResourceId } from '../../intents';

const base = { intent_id: IntentId.optional() };

/** get_console_output: the guest's serial console log (libvirt's console.log), last lines only. */
export const ConsoleOutputV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  tail_length: z.int().min(0).max(100_000).optional().describe('last N lines; absent = the whole log'),
});

/** get_host_uptime: the host's `uptime` line, as Nova's libvirt driver returns it. */
export const HostUptimeV1 = z.strictObject({ ...base });

/**
 * reserve_block_device_name: pick (or confirm) the guest device name a volume
 * will get, and hold it for that volume until volume.attach uses it. It runs on
 * the instance lane so two reservations never pick the same name, which is why
 * Nova does it on the compute host at all (compute/api.py _create_volume_bdm).
 */
export const VolumeReserveDeviceV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  volume_id: ResourceId,
  device_name: DeviceName.optional().describe('the name the user asked for; the host may choose another'),
  disk_bus: z.string().min(1).max(32).optional(),
  device_type: z.enum(['disk', 'cdrom', 'floppy', 'lun']).optional(),
  tag: z.string().min(1).max(255).optional(),
  multiattach: z.boolean().optional(),
});

/** external_instance_event volume-extended: grow an attached volume's guest disk to the backend's new size. */
export const VolumeExtendV1 = z.strictObject({
  ...base,
  instance_uuid: InstanceUuid,
  volume_id: ResourceId,
  new_size_bytes: z.int().positive().optional().describe('absent: the driver re-reads the size from the device'),
});

export const PROPOSED_INTENT_SCHEMAS = {
  'instance.console_output': ConsoleOutputV1,
  'host.uptime': HostUptimeV1,
  'volume.reserve_device': VolumeReserveDeviceV1,
  'volume.extend': VolumeExtendV1,
} as const;

export type ProposedKind = keyof typeof PROPOSED_INTENT_SCHEMAS;
export type ProposedIntent = {
  [K in ProposedKind]: { kind: K; args: z.output<(typeof PROPOSED_INTENT_SCHEMAS)[K]> };
}[ProposedKind];

/** What the Nova adapter emits: today's intents plus the proposed ones. */
export type NovaIntent = Intent | ProposedIntent;

/** How each proposed kind would be registered (registry.ts TABLE and lockKeysOf). */
export const PROPOSED_REGISTRATION: Record<ProposedKind, { scheduling: 'mutate' | 'read'; locks: string; issuers: string[] }> = {
  'instance.console_output': { scheduling: 'read', locks: 'none', issuers: ['nova', 'operator'] },
  'host.uptime': { scheduling: 'read', locks: 'none', issuers: ['nova', 'operator'] },
  'volume.reserve_device': { scheduling: 'mutate', locks: 'instance:<uuid>, volume:<id>', issuers: ['nova', 'cinder'] },
  'volume.extend': { scheduling: 'mutate', locks: 'instance:<uuid>, volume:<id>', issuers: ['nova', 'cinder'] },
};

/** The `result` a call of each proposed kind answers with (the worker's side of the contract). */
export const ConsoleOutputResult = z.looseObject({ output: z.string() });
export const HostUptimeResult = z.looseObject({ uptime: z.string() });
export const ReserveDeviceResult = z.looseObject({ device_name: DeviceName });

export const PROPOSED_REPLY_SCHEMAS = {
  'instance.console_output': ConsoleOutputResult,
  'host.uptime': HostUptimeResult,
  'volume.reserve_device': ReserveDeviceResult,
  // volume.extend answers with the ordinary ActionResult.
} as const;

const PROPOSED_KINDS = new Set<string>(Object.keys(PROPOSED_INTENT_SCHEMAS));

export function isProposedIntent(intent: NovaIntent): intent is ProposedIntent {
  return PROPOSED_KINDS.has(intent.kind);
}

/** validateIntent's twin for the proposed kinds (version 1.0, same error shape). */
export function proposeIntent<K extends ProposedKind>(kind: K, args: unknown): Extract<ProposedIntent, { kind: K }> {
  const result = PROPOSED_INTENT_SCHEMAS[kind].safeParse(args);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(args)'}: ${i.message}`);
    throw new RejectedError('INVALID_INTENT', `invalid ${kind} 1.0: ${issues.join('; ')}`, { method: kind, issues });
  }
  // The schema is `kind`'s own, so the parsed value has that kind's shape.
  return { kind, args: result.data } as Extract<ProposedIntent, { kind: K }>;
}

export type ConsoleOutputResult = z.output<typeof ConsoleOutputResult>;
export type HostUptimeResult = z.output<typeof HostUptimeResult>;
export type ReserveDeviceResult = z.output<typeof ReserveDeviceResult>;
