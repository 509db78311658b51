/**
 * What the adapter must know that Nova's message does not say.
 *
 * nova-compute completes Nova's requests by calling other services' REST APIs
 * from the host: it binds ports in Neutron (and only then learns their MAC,
 * VIF type and bridge), and it asks Cinder's attachment_update for a volume's
 * connection_info. hostwall does not call those APIs (docs/design.md#novas-compute-api: Neutron and
 * Cinder are clients of the wall, not servers it calls), so those facts must
 * reach it some other way: a port.plug or volume intent from Neutron/Cinder
 * the worker remembers, an operator's relay, or the instance's own network
 * info cache. The worker passes what it knows as NovaLookups
 * (host-state/learnt-bindings.ts); with none, a Nova request that needs them is
 * refused naming the missing fact.
 */
import { type ConnectionInfo, Port } from '../../intents';
import type { Instance, VifModel } from './objects';

export interface PortBinding {
  port: Port;
  /** Neutron says the port is ACTIVE (wired). Nova waits for network-vif-plugged only when this is false. */
  active?: boolean;
  network_id?: string;
}

export interface NovaLookups {
  /** A port's binding as hostwall knows it (e.g. from an earlier port.plug), or undefined. */
  port?(portId: string): PortBinding | undefined;
  /** A volume attachment's connection_info as Cinder gave it, or undefined. */
  connectionInfo?(ref: { volume_id: string; attachment_id?: string }): ConnectionInfo | undefined;
  /** CONF.instance_name_template of the Nova cloud (default "instance-%08x"). */
  instanceNameTemplate?: string;
}

export type Resolved<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Nova VIF types (nova/network/model.py VIF_TYPE_*) hostwall's Port can express. */
const VIF_TYPES: Record<string, Port['vif_type']> = { ovs: 'ovs', bridge: 'bridge', vhostuser: 'vhostuser', tap: 'tap' };

/** A network model VIF (from the instance's info cache) as hostwall's Port, or why it cannot be one. */
export function portFromVif(vif: VifModel): Resolved<PortBinding> {
  const vifType = vif.type ? VIF_TYPES[vif.type] : undefined;
  if (!vifType) return { ok: false, reason: `port ${vif.id} has VIF type ${vif.type ?? 'unset'}, which hostwall cannot plug` };
  const bridge = vif.network?.bridge;
  if (!vif.address || !bridge) return { ok: false, reason: `port ${vif.id} has no MAC address or bridge in Nova's network info` };
  const mtu = vif.network?.meta?.mtu;
  const port: Port = { port_id: vif.id, mac_address: vif.address, vif_type: vifType, network: { bridge, ...(mtu ? { mtu } : {}) } };
  // Nova's VNIC_TYPE_* that hostwall's Port names; others (e.g. accelerator-direct) are left unset.
  const vnic = Port.shape.vnic_type.safeParse(vif.vnic_type ?? undefined);
  if (vnic.success && vnic.data) port.vnic_type = vnic.data;
  const network_id = vif.network?.id ?? undefined;
  return { ok: true, value: { port, ...(typeof vif.active === 'boolean' ? { active: vif.active } : {}), ...(network_id ? { network_id } : {}) } };
}

/**
 * A port's facts: the worker's first (it has the freshest binding), then the
 * instance's info cache, which Nova fills after it binds ports (empty at build
 * time, so it helps only for ports already attached).
 */
export function resolvePort(portId: string, instance: Instance, facts: NovaLookups): Resolved<PortBinding> {
  const known = facts.port?.(portId);
  if (known) return { ok: true, value: known };
  const vif = instance.data.info_cache?.data.network_info?.find((v) => v.id === portId);
  if (vif) return portFromVif(vif);
  return {
    ok: false,
    reason:
      `port ${portId} is not known to hostwall: nova-compute would bind it in Neutron and read its MAC, ` +
      'VIF type and bridge from the binding; hostwall does not call Neutron, so it needs a port.plug (or the port facts) first',
  };
}

export function resolveConnectionInfo(
  ref: { volume_id: string; attachment_id?: string },
  carried: ConnectionInfo | undefined,
  facts: NovaLookups,
): Resolved<ConnectionInfo> {
  const info = carried ?? facts.connectionInfo?.(ref);
  if (info) return { ok: true, value: info };
  return {
    ok: false,
    reason:
      `volume ${ref.volume_id} (attachment ${ref.attachment_id ?? 'none'}) has no connection_info: nova-compute gets it ` +
      "from Cinder's attachment_update with this host's connector; hostwall does not call Cinder, so Cinder (or a relay) must give it",
  };
}
