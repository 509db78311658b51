/**
 * What a Nova caller gets back from the calls hostwall answers, built from the
 * intents' results. Each value is what Zed's ComputeManager method returns,
 * as NovaObjectSerializer would put it on the wire.
 */
import type { z } from 'zod';
import { IntentFailure } from '../../errors';
import type { ActionResult, Port } from '../../intents';

/** The n-th intent result, checked against what that intent's call answers; a mismatch is the worker's bug. */
export function resultOf<T extends z.ZodType>(schema: T, results: unknown[], n: number, what: string): z.output<T> {
  const parsed = schema.safeParse(results[n]);
  if (parsed.success) return parsed.data;
  throw new IntentFailure('INTERNAL', `${what}: intent result ${n} is not the expected shape (${parsed.error.issues[0]?.message ?? 'missing'})`);
}

/**
 * Zed's BlockDeviceMapping version. The reply must carry the caller's current
 * version, not the lowest that holds these fields: oslo.versionedobjects keeps
 * the received version on the object, and compute/api.py then sets
 * attachment_id (1.18) on it and casts it to attach_volume, which would
 * backport it away at an older version.
 */
export const BDM_VERSION = '1.21';

export interface ReservedDevice {
  instance_uuid: string;
  volume_id: string;
  device_name: string;
  disk_bus: string | null;
  device_type: string | null;
  tag: string | null;
}

/**
 * reserve_block_device_name's result: the new volume BDM, as
 * ComputeManager.reserve_block_device_name builds it. One field is missing and
 * cannot be made up: `id`. Nova's compute creates the BDM row (through the
 * conductor) and the API then calls volume_bdm.save(), which needs that id;
 * without it the Nova API fails with ObjectActionError ("attribute id not
 * lazy-loadable"). See the report: serving this fully needs the conductor's
 * object_action(create) over RPC.
 */
export function reservedBdmPrimitive(r: ReservedDevice): Record<string, unknown> {
  const data = {
    source_type: 'volume',
    destination_type: 'volume',
    instance_uuid: r.instance_uuid,
    boot_index: null,
    volume_id: r.volume_id,
    device_name: r.device_name,
    guest_format: null,
    disk_bus: r.disk_bus,
    device_type: r.device_type,
    tag: r.tag,
  };
  return {
    'nova_object.name': 'BlockDeviceMapping',
    'nova_object.namespace': 'nova',
    'nova_object.version': BDM_VERSION,
    'nova_object.data': data,
    'nova_object.changes': Object.keys(data),
  };
}

/**
 * attach_interface's result: `network_info[0]`, a network model VIF dict
 * (nova/network/model.py VIF). The Nova API reads only `vif['id']` from it
 * (api/openstack/compute/attach_interfaces.py create → show(port id), which
 * asks Neutron), so what hostwall does not know is left empty: subnets, the
 * binding details and profile.
 */
export function vifModel(port: Port, plugged: ActionResult, networkId: string | undefined): Record<string, unknown> {
  return {
    id: port.port_id,
    address: port.mac_address,
    network: {
      id: networkId ?? null,
      bridge: port.network.bridge,
      label: null,
      subnets: [],
      meta: port.network.mtu ? { mtu: port.network.mtu } : {},
    },
    type: port.vif_type,
    details: {},
    devname: plugged.device ?? null,
    ovs_interfaceid: port.vif_type === 'ovs' ? port.port_id : null,
    qbh_params: null,
    qbg_params: null,
    // Nova's value right after binding: Neutron has not reported the port up yet.
    active: false,
    vnic_type: port.vnic_type ?? 'normal',
    profile: {},
    // The user brought the port (Nova never creates one on hostwall's path), so deleting the server keeps it.
    preserve_on_delete: true,
    delegate_create: false,
    meta: {},
  };
}
