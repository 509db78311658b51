/**
 * What the worker knows about each intent kind: its lock keys, who may send
 * it, how it is scheduled, and which versions it accepts (docs/design.md#intents-and-versions).
 */
import { type Intent, type IntentKind, type PublishedVersion, publishedVersions } from './kinds';
import { InvariantError } from '../errors';

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

/** One published version of a kind and the schema that validates messages naming it. */
export type KindVersion = PublishedVersion;

export interface KindDefinition {
  readonly kind: IntentKind;
  readonly issuers: readonly Issuer[];
  readonly scheduling: Scheduling;
  /**
   * Every published version, oldest first, each with its own schema. Per
   * major the highest minor is what the worker serves; a message naming a
   * lower minor is accepted and validated by the schema of that minor (the
   * highest published one not above it), so an older sender's message means
   * exactly what it meant when that minor was current.
   */
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
  'instance.console_output': { issuers: NOVA_OPS, scheduling: 'read' },
  'volume.attach': { issuers: ['cinder', 'nova'], scheduling: 'mutate' },
  'volume.detach': { issuers: ['cinder', 'nova', 'operator'], scheduling: 'mutate' },
  'volume.reserve_device': { issuers: ['nova', 'cinder'], scheduling: 'mutate' },
  'volume.extend': { issuers: ['nova', 'cinder'], scheduling: 'mutate' },
  'port.plug': { issuers: ['neutron', 'nova'], scheduling: 'mutate' },
  'port.unplug': { issuers: ['neutron', 'nova', 'operator'], scheduling: 'mutate' },
  // Nova relays Neutron's network-vif-plugged (external_instance_event), so Nova may send it too.
  'port.ready': { issuers: ['neutron', 'nova'], scheduling: 'signal' },
  'host.connector': { issuers: ['cinder', 'nova', 'operator'], scheduling: 'read' },
  'host.inventory': { issuers: NOVA_OPS, scheduling: 'read' },
  'host.uptime': { issuers: NOVA_OPS, scheduling: 'read' },
  'host.intents': { issuers: ['operator', 'nova'], scheduling: 'read' },
};

export const REGISTRY: ReadonlyMap<IntentKind, KindDefinition> = new Map(
  (Object.keys(TABLE) as IntentKind[]).map((kind) => [kind, { kind, ...TABLE[kind], versions: publishedVersions(kind) }]),
);

export function definitionOf(kind: IntentKind): KindDefinition {
  const def = REGISTRY.get(kind);
  if (!def) throw new InvariantError(`no definition for ${kind}`);
  return def;
}

/** The serializer group of builds, limited by maxConcurrentBuilds within the concurrency cap. */
export const BUILD_GROUP = 'build';

/** The cap group an intent counts against besides the concurrency cap: spawns are builds (Nova's max_concurrent_builds). */
export function capGroupOf(kind: IntentKind): string | undefined {
  return kind === 'instance.spawn' ? BUILD_GROUP : undefined;
}

/** The resources an intent touches; intents sharing one run strictly in order. */
export function lockKeysOf(intent: Intent): LockKey[] {
  switch (intent.kind) {
    case 'volume.attach':
    case 'volume.detach':
    case 'volume.reserve_device':
    case 'volume.extend':
      return [`instance:${intent.args.instance_uuid}`, `volume:${intent.args.volume_id}`];
    case 'port.plug':
      return [`instance:${intent.args.instance_uuid}`, `port:${intent.args.port.port_id}`];
    case 'port.unplug':
      return [`instance:${intent.args.instance_uuid}`, `port:${intent.args.port_id}`];
    case 'port.ready':
      return [`port:${intent.args.port_id}`];
    case 'host.connector':
    case 'host.inventory':
    case 'host.uptime':
    case 'host.intents':
    case 'instance.get_state':
    case 'instance.console_output':
      return [];
    default:
      // Every remaining kind is an instance intent. A spawn does not lock its
      // ports: it waits for their port.ready, which must not queue behind it.
      return [`instance:${intent.args.instance_uuid}`];
  }
}

/** The instance an intent is about, if any (for events and logs); host.intents' instance is a filter, not a subject. */
export function instanceOf(intent: Intent): string | undefined {
  if (intent.kind === 'host.intents') return undefined;
  return 'instance_uuid' in intent.args ? intent.args.instance_uuid : undefined;
}
