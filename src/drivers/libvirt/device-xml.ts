/**
 * libvirt device XML for Cinder volumes (from connection_info, as Nova's
 * libvirt volume drivers build it) and Neutron ports (as Nova's vif.py and
 * os-vif name things). Pure functions: nothing here touches libvirt.
 *
 * Secrets (CHAP passwords, Ceph keys) never enter device XML. A volume that
 * needs one returns a SecretRequest: the driver defines a libvirt secret
 * with that usage and sets its value; the disk refers to it by usage. Or the
 * message names a secret already defined on the host by its uuid
 * (`secret_uuid`, rbd as Cinder gives it, iSCSI CHAP as hostwall takes it):
 * then no secret travels in the message, nor in the journal that records it. The value is behind a function so that logging or
 * serialising a SecretRequest cannot print it.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { IntentFailure } from '../../errors';
import type { ConnectionInfo, Port } from '../../intents';
import type { SecretUsageType } from './metadata';
import { escapeAttr, escapeText } from './xml';

export interface SecretRequest {
  usageType: SecretUsageType;
  /** iscsi: `<target>`; ceph: `<name>`. Unique per host. */
  usageId: string;
  /** virSecretDefineXML input: usage only, never the value. */
  xml: string;
  value(): Buffer;
}

export interface VolumeDevice {
  volumeId: string;
  driverVolumeType: string;
  target: string;
  xml: string;
  secret?: SecretRequest | undefined;
}

export interface InterfaceDevice {
  portId: string;
  vifType: string;
  mac: string;
  target: string;
  xml: string;
}

export interface VolumeDeviceOptions {
  volumeId: string;
  connectionInfo: ConnectionInfo;
  /** Guest target dev without /dev/ (vdb). */
  target: string;
  /** Where NFS exports are mounted (os-brick's nfs_mount_point_base). */
  nfsMountBase: string;
  /**
   * `local`/`file` volumes: whether the checked host path (host-paths.ts) is
   * a block device, written as `<source dev>`. Default: a path under /dev/.
   */
  block?: boolean | undefined;
}

/** The host path a volume's disk names, and which kind of disk it backs (host-paths.ts checks it). */
export interface VolumeHostPath {
  path: string;
  /** 'either': a `local`/`file` volume, a block device or a file depending on where the path leads. */
  backing: 'file' | 'either';
  /** The connection_info field it came from, for errors. */
  field: string;
}

/**
 * The host path of a `local`, `file` or `nfs` volume, exactly as the message
 * makes it (an NFS name's `..` is kept, so the check sees it); undefined for
 * network disks and for connection_info volumeDevice would refuse anyway.
 */
export function volumeHostPath(ci: ConnectionInfo, nfsMountBase: string): VolumeHostPath | undefined {
  const data = ci.data;
  switch (ci.driver_volume_type) {
    case 'local':
    case 'file': {
      const p = optStr(data, 'device_path');
      return p === undefined ? undefined : { path: p, backing: 'either', field: 'connection_info.data.device_path' };
    }
    case 'nfs': {
      const exp = optStr(data, 'export');
      const name = optStr(data, 'name');
      if (exp === undefined || name === undefined) return undefined;
      return { path: `${nfsMountPoint(nfsMountBase, exp)}/${name}`, backing: 'file', field: 'connection_info.data.name' };
    }
    default:
      return undefined;
  }
}

function invalid(type: string, what: string): IntentFailure {
  return new IntentFailure('NOT_SUPPORTED', `connection_info for driver_volume_type '${type}': ${what}`, {
    driver_volume_type: type,
    reason: 'invalid_connection_info',
  });
}

function str(data: Record<string, unknown>, key: string, type: string): string {
  const v = data[key];
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw invalid(type, `data.${key} is required (a non-empty string)`);
}

function optStr(data: Record<string, unknown>, key: string): string | undefined {
  const v = data[key];
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** `vdb` from `vdb` or `/dev/vdb`. */
export function targetFromDeviceName(name: string): string {
  return name.replace(/^\/dev\//, '');
}

/** The bus a target name implies, as Nova's blockinfo maps prefixes. */
export function busForTarget(target: string): 'virtio' | 'scsi' | 'ide' | 'xen' {
  if (target.startsWith('vd')) return 'virtio';
  if (target.startsWith('sd')) return 'scsi';
  if (target.startsWith('hd')) return 'ide';
  if (target.startsWith('xvd')) return 'xen';
  return 'virtio';
}

/** Suffixes a..z, aa..zz in the kernel's order. */
function* suffixes(): Generator<string> {
  const abc = 'abcdefghijklmnopqrstuvwxyz';
  for (const a of abc) yield a;
  for (const a of abc) for (const b of abc) yield a + b;
}

/** The first `<prefix><suffix>` not in `used` (vda, vdb, ...). */
export function nextFreeTarget(used: Iterable<string>, prefix = 'vd'): string {
  const taken = new Set(used);
  for (const s of suffixes()) if (!taken.has(prefix + s)) return prefix + s;
  throw new IntentFailure('INVALID_STATE', `no free ${prefix}X target device left`);
}

/** os-brick's RemoteFsClient mount point: base + md5(export). */
export function nfsMountPoint(base: string, exportPath: string): string {
  return path.join(base, createHash('md5').update(exportPath, 'utf8').digest('hex'));
}

/** host and port from `host:port`, `[v6]:port`, bare host or bare IPv6. */
export function parsePortal(portal: string, defaultPort: string): { host: string; port: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(portal);
  if (v6) return { host: v6[1] ?? '', port: v6[2] ?? defaultPort };
  const colons = portal.split(':').length - 1;
  if (colons === 1) {
    const [host = '', port = ''] = portal.split(':');
    return { host, port: port || defaultPort };
  }
  return { host: portal, port: defaultPort };
}

function diskXml(o: {
  type: 'file' | 'block' | 'network';
  format: string;
  cache?: string;
  source: string;
  auth?: string;
  target: string;
  serial: string;
  readonly: boolean;
}): string {
  const cache = o.cache ? ` cache='${o.cache}'` : '';
  return [
    `<disk type='${o.type}' device='disk'>`,
    `  <driver name='qemu' type='${escapeAttr(o.format)}'${cache}/>`,
    `  ${o.source}`,
    ...(o.auth ? [`  ${o.auth}`] : []),
    `  <target dev='${escapeAttr(o.target)}' bus='${busForTarget(o.target)}'/>`,
    `  <serial>${escapeText(o.serial)}</serial>`,
    ...(o.readonly ? ['  <readonly/>'] : []),
    '</disk>',
  ].join('\n');
}

function secretRequest(usageType: SecretUsageType, usageId: string, volumeId: string, bytes: Buffer): SecretRequest {
  const usage = usageType === 'iscsi' ? `<target>${escapeText(usageId)}</target>` : `<name>${escapeText(usageId)}</name>`;
  const xml = [
    "<secret ephemeral='no' private='yes'>",
    `  <description>${escapeText(`hostwall ${usageType} secret for volume ${volumeId}`)}</description>`,
    `  <usage type='${usageType}'>${usage}</usage>`,
    '</secret>',
  ].join('\n');
  return { usageType, usageId, xml, value: () => Buffer.from(bytes) };
}

/** Ceph key from data.key, or the `key = ...` line of data.keyring (Cinder's rbd_keyring_conf contents). */
function cephKey(data: Record<string, unknown>): string | undefined {
  const key = optStr(data, 'key');
  if (key) return key;
  const keyring = optStr(data, 'keyring');
  return keyring ? /^\s*key\s*=\s*(\S+)\s*$/m.exec(keyring)?.[1] : undefined;
}

/**
 * The disk for a Cinder volume. Unknown driver_volume_type →
 * IntentFailure NOT_SUPPORTED naming it; missing keys → NOT_SUPPORTED with
 * reason invalid_connection_info.
 */
export function volumeDevice(o: VolumeDeviceOptions): VolumeDevice {
  const { volumeId, target } = o;
  const type = o.connectionInfo.driver_volume_type;
  const data = o.connectionInfo.data;
  if (data.encrypted === true) throw invalid(type, 'encrypted volumes are not supported (no LUKS/encryption handling)');
  const readonly = data.access_mode === 'ro';
  const common = { target, serial: volumeId, readonly };
  const done = (xml: string, secret?: SecretRequest): VolumeDevice => ({ volumeId, driverVolumeType: type, target, xml, secret });

  switch (type) {
    case 'local':
    case 'file': {
      const p = str(data, 'device_path', type);
      // A block device must be a block disk for QEMU to treat it as one.
      const block = o.block ?? p.startsWith('/dev/');
      const source = block ? `<source dev='${escapeAttr(p)}'/>` : `<source file='${escapeAttr(p)}'/>`;
      return done(diskXml({ ...common, type: block ? 'block' : 'file', format: optStr(data, 'format') ?? 'raw', source }));
    }
    case 'nfs': {
      const exp = str(data, 'export', type);
      const file = path.join(nfsMountPoint(o.nfsMountBase, exp), str(data, 'name', type));
      const source = `<source file='${escapeAttr(file)}'/>`;
      return done(diskXml({ ...common, type: 'file', format: optStr(data, 'format') ?? 'raw', source }));
    }
    case 'iscsi': {
      const iqn = str(data, 'target_iqn', type);
      const lun = optStr(data, 'target_lun') ?? '0';
      const { host, port } = parsePortal(str(data, 'target_portal', type), '3260');
      if (!host) throw invalid(type, 'data.target_portal has no host');
      const name = `${iqn}/${lun}`;
      const source = `<source protocol='iscsi' name='${escapeAttr(name)}'><host name='${escapeAttr(host)}' port='${escapeAttr(port)}'/></source>`;
      let auth: string | undefined;
      let secret: SecretRequest | undefined;
      if (String(data.auth_method ?? '').toUpperCase() === 'CHAP') {
        const user = str(data, 'auth_username', type);
        const byReference = optStr(data, 'secret_uuid');
        if (byReference !== undefined) {
          // A libvirt secret the operator (or Cinder's deployment) defined on this host, as rbd's
          // secret_uuid: the password never travels in the message, so the journal never holds it.
          if (!UUID_RE.test(byReference)) throw invalid(type, 'data.secret_uuid must be the uuid of a libvirt secret');
          auth = `<auth username='${escapeAttr(user)}'><secret type='iscsi' uuid='${escapeAttr(byReference.toLowerCase())}'/></auth>`;
        } else {
          const password = str(data, 'auth_password', type);
          // Nova's usage id for iSCSI CHAP secrets: the source name iqn/lun.
          secret = secretRequest('iscsi', name, volumeId, Buffer.from(password, 'utf8'));
          auth = `<auth username='${escapeAttr(user)}'><secret type='iscsi' usage='${escapeAttr(name)}'/></auth>`;
        }
      }
      return done(diskXml({ ...common, type: 'network', format: 'raw', cache: 'none', source, auth }), secret);
    }
    case 'rbd': {
      const name = str(data, 'name', type);
      const hosts = Array.isArray(data.hosts) ? data.hosts.map(String) : [];
      const ports = Array.isArray(data.ports) ? data.ports.map(String) : [];
      const hostXml = hosts
        .map((h, i) => {
          const port = ports[i];
          return `<host name='${escapeAttr(h)}'${port ? ` port='${escapeAttr(port)}'` : ''}/>`;
        })
        .join('');
      const source = `<source protocol='rbd' name='${escapeAttr(name)}'>${hostXml}</source>`;
      let auth: string | undefined;
      let secret: SecretRequest | undefined;
      if (data.auth_enabled === true || (data.auth_enabled === undefined && optStr(data, 'auth_username'))) {
        const user = str(data, 'auth_username', type);
        const uuid = optStr(data, 'secret_uuid');
        const key = cephKey(data);
        if (uuid) {
          auth = `<auth username='${escapeAttr(user)}'><secret type='ceph' uuid='${escapeAttr(uuid)}'/></auth>`;
        } else if (key) {
          const usage = `hostwall-volume-${volumeId}`;
          secret = secretRequest('ceph', usage, volumeId, Buffer.from(key, 'base64'));
          auth = `<auth username='${escapeAttr(user)}'><secret type='ceph' usage='${escapeAttr(usage)}'/></auth>`;
        } else {
          throw invalid(type, 'auth is enabled but data has neither secret_uuid nor key/keyring');
        }
      }
      return done(diskXml({ ...common, type: 'network', format: 'raw', cache: 'writeback', source, auth }), secret);
    }
    default:
      throw new IntentFailure('NOT_SUPPORTED', `volume driver_volume_type '${type}' is not supported (supported: local, file, iscsi, rbd, nfs)`, {
        driver_volume_type: type,
      });
  }
}

/** Nova's tap naming: 'tap' + the first 11 characters of the port id (fits IFNAMSIZ). */
export function tapName(portId: string): string {
  return `tap${portId.slice(0, 11)}`;
}

/** os-vif's vhost-user socket name: 'vhu' + the first 11 characters of the port id. */
export function vhostuserSocket(portId: string, dir: string): string {
  return path.join(dir, `vhu${portId.slice(0, 11)}`);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface InterfaceOptions {
  /** Directory of vhost-user sockets (os-vif default /var/run/openvswitch). */
  vhostuserSocketDir: string;
}

/** The `<interface>` for a Neutron port. Unsupported vnic_type → NOT_SUPPORTED. */
export function interfaceDevice(port: Port, opts: InterfaceOptions): InterfaceDevice {
  if (port.vnic_type !== undefined && port.vnic_type !== 'normal') {
    throw new IntentFailure('NOT_SUPPORTED', `vnic_type '${port.vnic_type}' is not supported (only 'normal')`, { vnic_type: port.vnic_type });
  }
  const target = tapName(port.port_id);
  const mac = port.mac_address.toLowerCase();
  const lines: string[] = [];
  switch (port.vif_type) {
    case 'bridge':
      lines.push("<interface type='bridge'>", `  <source bridge='${escapeAttr(port.network.bridge)}'/>`);
      break;
    case 'ovs':
      // libvirt requires interfaceid to be a UUID: it becomes OVS's external_ids:iface-id.
      if (!UUID_RE.test(port.port_id)) {
        throw new IntentFailure('NOT_SUPPORTED', `vif_type 'ovs' needs a UUID port_id (OVS iface-id), got '${port.port_id}'`);
      }
      lines.push(
        "<interface type='bridge'>",
        `  <source bridge='${escapeAttr(port.network.bridge)}'/>`,
        `  <virtualport type='openvswitch'><parameters interfaceid='${escapeAttr(port.port_id)}'/></virtualport>`,
      );
      break;
    case 'tap':
    case 'ethernet':
      lines.push("<interface type='ethernet'>");
      break;
    case 'vhostuser':
      lines.push(
        "<interface type='vhostuser'>",
        `  <source type='unix' path='${escapeAttr(vhostuserSocket(port.port_id, opts.vhostuserSocketDir))}' mode='client'/>`,
      );
      break;
  }
  lines.splice(1, 0, `  <mac address='${escapeAttr(mac)}'/>`);
  lines.push(`  <target dev='${escapeAttr(target)}'/>`, "  <model type='virtio'/>");
  if (port.network.mtu !== undefined) lines.push(`  <mtu size='${port.network.mtu}'/>`);
  lines.push('</interface>');
  return { portId: port.port_id, vifType: port.vif_type, mac, target, xml: lines.join('\n') };
}
