/**
 * What the worker tells the Nova adapter that Nova's own messages do not say
 * (adapters/nova/facts.ts): a port's binding (MAC, VIF type, bridge), which
 * nova-compute would read from Neutron, and a volume attachment's
 * connection_info, which it would get from Cinder. hostwall calls neither
 * API; it remembers what it has been told:
 *
 * - ports: from every admitted port.plug and instance.spawn (Neutron's or
 *   Nova's), from the instance book (ports of the guests it runs), and from
 *   the network info cache of the instances in every admitted Nova message
 *   sent by an issuer that may plug ports (Nova's record of the binding).
 *   Every fact comes from an issuer allowed the intent it steers: an
 *   admitted intent's issuer may send it, and the kinds that teach share
 *   their issuers with the kinds they steer (spawn: Nova; volume.attach:
 *   Cinder, Nova; port.plug: Neutron, Nova). A port learnt this way is never taken
 *   as "already active": a port bound anew to an instance goes ACTIVE again
 *   and Neutron says so, so a spawn waits for its network-vif-plugged, as
 *   Nova's build does.
 * - connection_info: from every admitted volume.attach that carries one
 *   (Cinder's, or Nova's when the block device mapping still has it) and
 *   every spawn's volumes, by volume and Cinder attachment id. A Nova
 *   attach_volume (Zed sends no connection_info) gets the one recorded for
 *   its attachment id, or for the volume from a sender that named no
 *   attachment; a message naming no attachment gets the volume's latest.
 *
 * The limits, by design: what the worker never saw it cannot know, so a Nova
 * boot with a port nobody described, or an attach of an attachment whose
 * connection_info never reached the host, is refused INVALID_INTENT naming
 * the missing fact (and dead-lettered, to be replayed once the fact is
 * known). Everything is in memory, bounded (the oldest forgotten first), and
 * lost on restart, except what the instance book rebuilds. connection_info
 * may hold credentials (CHAP, cephx): they stay in memory, never logged.
 */
import { type NovaLookups, type PortBinding, portFromVif } from '../adapters/nova';
import { Instance } from '../adapters/nova';
import type { ConnectionInfo, Intent, IntentKind } from '../intents';
import type { InstanceBook } from './instance-book';

interface KnownConnection {
  attachment_id: string | undefined;
  info: ConnectionInfo;
}

/** The kind whose issuers may teach port facts: the ones that plug ports. */
const PORT_FACTS_KIND: IntentKind = 'port.plug';

/** Connections kept per volume (its recent attachments). */
const PER_VOLUME = 4;

/** Insert as newest, dropping the oldest past `capacity` (Map keeps insertion order). */
function remember<K, V>(map: Map<K, V>, key: K, value: V, capacity: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > capacity) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

export class LearntBindings {
  private readonly ports = new Map<string, PortBinding>();
  private readonly volumes = new Map<string, KnownConnection[]>();

  /** The adapter's view of this directory. */
  readonly lookups: NovaLookups;

  constructor(
    private readonly book: InstanceBook,
    private readonly capacity = 4096,
    instanceNameTemplate?: string,
  ) {
    this.lookups = {
      port: (portId) => this.port(portId),
      connectionInfo: (ref) => this.connectionInfo(ref),
      ...(instanceNameTemplate !== undefined ? { instanceNameTemplate } : {}),
    };
  }

  /** Learn from an intent the worker admitted (before it runs: these are the senders' facts, not outcomes). */
  learnIntent(intent: Intent): void {
    switch (intent.kind) {
      case 'port.plug':
        this.learnPort({ port: intent.args.port });
        break;
      case 'instance.spawn':
        for (const port of intent.args.ports ?? []) this.learnPort({ port });
        for (const v of intent.args.volumes ?? []) this.learnConnection(v.volume_id, undefined, v.connection_info);
        break;
      case 'volume.attach':
        this.learnConnection(intent.args.volume_id, intent.args.attachment_id, intent.args.connection_info);
        break;
      default:
    }
  }

  /**
   * Learn the ports in the network info cache of the instances an admitted
   * Nova message carries, if its sender may plug ports (`may`: the issuer
   * policy). A port fact decides which bridge a later plug uses, so it is
   * taken only from Neutron or Nova, whatever message carries it: Cinder may
   * send Nova messages that plug nothing, and must not steer a plug by them.
   */
  learnNovaArgs(args: Record<string, unknown>, may: (kind: IntentKind) => boolean): void {
    if (!may(PORT_FACTS_KIND)) return;
    const candidates = [args.instance, ...(Array.isArray(args.instances) ? args.instances : [])];
    for (const raw of candidates) {
      const parsed = Instance.safeParse(raw);
      if (!parsed.success) continue;
      for (const vif of parsed.data.data.info_cache?.data.network_info ?? []) {
        const r = portFromVif(vif);
        if (r.ok) this.learnPort({ port: r.value.port, ...(r.value.network_id ? { network_id: r.value.network_id } : {}) });
      }
    }
  }

  port(portId: string): PortBinding | undefined {
    const known = this.ports.get(portId);
    if (known) return known;
    for (const uuid of this.book.uuids()) {
      const port = this.book.get(uuid)?.ports.find((p) => p.port_id === portId);
      if (port) return { port };
    }
    return undefined;
  }

  connectionInfo(ref: { volume_id: string; attachment_id?: string }): ConnectionInfo | undefined {
    const known = this.volumes.get(ref.volume_id) ?? [];
    if (ref.attachment_id === undefined) return known[known.length - 1]?.info;
    const exact = known.find((k) => k.attachment_id === ref.attachment_id);
    const unnamed = known.filter((k) => k.attachment_id === undefined);
    return (exact ?? unnamed[unnamed.length - 1])?.info;
  }

  private learnPort(facts: PortBinding): void {
    // Never "active": see the file header.
    const { active: _stale, ...rest } = facts;
    remember(this.ports, facts.port.port_id, rest, this.capacity);
  }

  private learnConnection(volumeId: string, attachmentId: string | undefined, info: ConnectionInfo): void {
    const kept = (this.volumes.get(volumeId) ?? []).filter((k) => k.attachment_id !== attachmentId);
    kept.push({ attachment_id: attachmentId, info });
    remember(this.volumes, volumeId, kept.slice(-PER_VOLUME), this.capacity);
  }
}
