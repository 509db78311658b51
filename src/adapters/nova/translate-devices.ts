/**
 * Volume and interface hot-plug methods → volume.* / port.* intents.
 */
import { resolveConnectionInfo, resolvePort } from './facts';
import {
  AttachInterfaceArgs, AttachVolumeArgs, DetachInterfaceArgs, DetachVolumeArgs, ReserveBlockDeviceNameArgs,
} from './method-args';
import { decodeNova } from './objects';
import { ActionResult, ReservedDevice } from '../../intents';
import { reservedBdmPrimitive, resultOf, vifModel } from './replies';
import { intentConnectionInfo } from './translate-spawn';
import { adapted, intent, type NovaAdapted, refuse, type Translation } from './translation';

function setFields(fields: Record<string, unknown>): string[] {
  return Object.entries(fields).filter(([, v]) => v !== null && v !== undefined && v !== false).map(([k]) => k);
}

/**
 * attach_volume → volume.attach 1.1, device_name from the BDM (the one
 * reserve_block_device_name chose), with its attachment_id, disk_bus,
 * device_type and tag. In Zed the BDM carries only the Cinder attachment_id;
 * connection_info comes from the BDM when an older flow left it there, else
 * from the worker's facts, else the message is refused (facts.ts).
 */
export function translateAttachVolume(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(AttachVolumeArgs, raw, t.method);
  const bdm = args.bdm.data;
  const volume_id = bdm.volume_id ?? refuse(t, 'the block device mapping has no volume_id');
  const ref = { volume_id, ...(bdm.attachment_id ? { attachment_id: bdm.attachment_id } : {}) };
  const info = resolveConnectionInfo(ref, intentConnectionInfo(bdm.connection_info), t.facts);
  if (!info.ok) return refuse(t, info.reason);
  const attach = intent('volume.attach', {
    instance_uuid: args.instance.data.uuid,
    volume_id,
    connection_info: info.value,
    ...(bdm.device_name ? { device_name: bdm.device_name } : {}),
    ...(bdm.attachment_id ? { attachment_id: bdm.attachment_id } : {}),
    ...(bdm.disk_bus ? { disk_bus: bdm.disk_bus } : {}),
    ...(bdm.device_type ? { device_type: bdm.device_type } : {}),
    ...(bdm.tag ? { tag: bdm.tag } : {}),
  });
  return adapted([attach]);
}

/** detach_volume → volume.detach 1.1. Nova then deletes the Cinder attachment; hostwall only detaches and disconnects. */
export function translateDetachVolume(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(DetachVolumeArgs, raw, t.method);
  const detach = intent('volume.detach', {
    instance_uuid: args.instance.data.uuid,
    volume_id: args.volume_id,
    ...(args.attachment_id ? { attachment_id: args.attachment_id } : {}),
  });
  return adapted([detach]);
}

/**
 * reserve_block_device_name (call) → volume.reserve_device, answered with the
 * BDM primitive Nova's compute returns (replies.ts, including what is missing).
 */
export function translateReserveBlockDeviceName(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(ReserveBlockDeviceNameArgs, raw, t.method);
  const reserve = intent('volume.reserve_device', {
    instance_uuid: args.instance.data.uuid,
    volume_id: args.volume_id,
    ...(args.device ? { device_name: args.device } : {}),
    ...(args.disk_bus ? { disk_bus: args.disk_bus } : {}),
    ...(args.device_type ? { device_type: args.device_type } : {}),
    ...(args.tag ? { tag: args.tag } : {}),
    ...(typeof args.multiattach === 'boolean' ? { multiattach: args.multiattach } : {}),
  });
  return adapted([reserve], [], (results) => {
    const { device_name } = resultOf(ReservedDevice, results, 0, t.method);
    return reservedBdmPrimitive({
      instance_uuid: reserve.args.instance_uuid,
      volume_id: reserve.args.volume_id,
      // Nova stores and returns the full path (/dev/vdb).
      device_name: device_name.startsWith('/dev/') ? device_name : `/dev/${device_name}`,
      disk_bus: args.disk_bus ?? null,
      device_type: args.device_type ?? null,
      tag: args.tag ?? null,
    });
  });
}

/**
 * attach_interface (call) → port.plug of an existing port, answered with a
 * network model VIF. Attaching "a network" (no port) is refused: nova-compute
 * would create the port in Neutron.
 */
export function translateAttachInterface(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(AttachInterfaceArgs, raw, t.method);
  const portId =
    args.port_id ??
    refuse(t, `network ${args.network_id ?? '(unset)'} without a port: nova-compute would create the port in Neutron; hostwall does not call Neutron`);
  const facts = resolvePort(portId, args.instance, t.facts);
  if (!facts.ok) return refuse(t, facts.reason);
  const plug = intent('port.plug', { instance_uuid: args.instance.data.uuid, port: facts.value.port });
  const networkId = args.network_id ?? facts.value.network_id;
  return adapted([plug], setFields({ requested_ip: args.requested_ip, tag: args.tag }), (results) =>
    vifModel(plug.args.port, resultOf(ActionResult, results, 0, t.method), networkId ?? undefined),
  );
}

/** detach_interface → port.unplug. Nova then unbinds (or deletes) the port in Neutron; hostwall only unplugs. */
export function translateDetachInterface(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(DetachInterfaceArgs, raw, t.method);
  return adapted([intent('port.unplug', { instance_uuid: args.instance.data.uuid, port_id: args.port_id })]);
}
