/**
 * What a call gets back (the oslo reply's `result`) when the outcome is final.
 * Failures travel as oslo's failure form instead, never in these shapes.
 */
import { z } from 'zod';
import type { IntentKind } from './kinds';
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
  'volume.attach': ActionResult,
  'volume.detach': ActionResult,
  'port.plug': ActionResult,
  'port.unplug': ActionResult,
  'port.ready': PortReadyResult,
  'host.connector': HostConnector,
  'host.inventory': HostInventory,
};

export type HostInventory = z.infer<typeof HostInventory>;
export type HostConnector = z.infer<typeof HostConnector>;
export type ActionResult = z.infer<typeof ActionResult>;
export type PortReadyResult = z.infer<typeof PortReadyResult>;
