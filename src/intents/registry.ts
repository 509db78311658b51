/**
 * What the worker knows about each intent kind: its lock keys, who may send
 * it, how it is scheduled, and which versions it accepts (DESIGN §3, §4).
 */
import type { z } from 'zod';
import { INTENT_SCHEMAS, type Intent, type IntentKind } from './kinds';

export type Issuer = 'nova' | 'cinder' | 'neutron' | 'operator';
export const ISSUERS: readonly Issuer[] = ['nova', 'cinder', 'neutron', 'operator'];

/** `instance:<uuid>`, `volume:<id>`, `port:<id>`. */
export type LockKey = `instance:${string}` | `volume:${string}` | `port:${string}`;

/**
 * - mutate: changes the host; FIFO per lock key, counted against the concurrency cap.
 * - signal: a fact reported to the host (port.ready); FIFO per key, never waits for
 *   the cap, because a spawn holding a slot may be waiting for exactly this signal.
 * - read: answers from the driver; no lock, no cap.
 */
export type Scheduling = 'mutate' | 'signal' | 'read';

export interface KindVersion {
  readonly major: number;
  /** Highest minor understood for this major; lower minors are accepted. */
  readonly minor: number;
  readonly schema: z.ZodType;
}

export interface KindDefinition {
  readonly kind: IntentKind;
  readonly issuers: readonly Issuer[];
  readonly scheduling: Scheduling;
  readonly versions: readonly KindVersion[];
}

const ALL: readonly Issuer[] = ISSUERS;
const NOVA_OPS: readonly Issuer[] = ['nova', 'operator'];

const TABLE: Record<IntentKind, { issuers: readonly Issuer[]; scheduling: Scheduling }> = {
  'instance.spawn': { issuers: ['nova'], scheduling: 'mutate' },
  'instance.destroy': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.power_on': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.power_off': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.reboot': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.pause': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.unpause': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.suspend': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.resume': { issuers: NOVA_OPS, scheduling: 'mutate' },
  'instance.get_state': { issuers: ALL, scheduling: 'read' },
  'volume.attach': { issuers: ['cinder', 'nova'], scheduling: 'mutate' },
  'volume.detach': { issuers: ['cinder', 'nova', 'operator'], scheduling: 'mutate' },
  'port.plug': { issuers: ['neutron', 'nova'], scheduling: 'mutate' },
  'port.unplug': { issuers: ['neutron', 'nova', 'operator'], scheduling: 'mutate' },
  'port.ready': { issuers: ['neutron'], scheduling: 'signal' },
  'host.connector': { issuers: ['cinder', 'nova', 'operator'], scheduling: 'read' },
  'host.inventory': { issuers: NOVA_OPS, scheduling: 'read' },
};

export const REGISTRY: ReadonlyMap<IntentKind, KindDefinition> = new Map(
  (Object.keys(TABLE) as IntentKind[]).map((kind) => [
    kind,
    { kind, ...TABLE[kind], versions: [{ major: 1, minor: 0, schema: INTENT_SCHEMAS[kind] }] },
  ]),
);

export function definitionOf(kind: IntentKind): KindDefinition {
  const def = REGISTRY.get(kind);
  if (!def) throw new Error(`no definition for ${kind}`);
  return def;
}

/** The resources an intent touches; intents sharing one run strictly in order. */
export function lockKeysOf(intent: Intent): LockKey[] {
  switch (intent.kind) {
    case 'volume.attach':
    case 'volume.detach':
      return [`instance:${intent.args.instance_uuid}`, `volume:${intent.args.volume_id}`];
    case 'port.plug':
      return [`instance:${intent.args.instance_uuid}`, `port:${intent.args.port.port_id}`];
    case 'port.unplug':
      return [`instance:${intent.args.instance_uuid}`, `port:${intent.args.port_id}`];
    case 'port.ready':
      return [`port:${intent.args.port_id}`];
    case 'host.connector':
    case 'host.inventory':
    case 'instance.get_state':
      return [];
    default:
      // Every remaining kind is an instance intent. A spawn does not lock its
      // ports: it waits for their port.ready, which must not queue behind it.
      return [`instance:${intent.args.instance_uuid}`];
  }
}

/** The instance an intent is about, if any (for events and logs). */
export function instanceOf(intent: Intent): string | undefined {
  return 'instance_uuid' in intent.args ? intent.args.instance_uuid : undefined;
}
