/**
 * The host's connector properties, in the shape of os-brick's
 * get_connector_properties (what Nova sends Cinder's initialize_connection).
 *
 * Where os-brick's answer depends on Python, this matches Python 3:
 * os_type is sys.platform, which is 'linux' (Python 2 said 'linux2');
 * platform is platform.machine(), i.e. uname -m (x86_64, aarch64...).
 * Only the iSCSI initiator is discovered (from open-iscsi's file); FC WWPNs
 * and NVMe-oF NQNs are not.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import type { HostConnector } from '../intents';

export interface HostConnectorOptions {
  /** Nova's CONF.host. */
  host: string;
  /** Nova's my_block_storage_ip; default: the first non-internal IPv4 address. */
  ip?: string;
  multipath?: boolean;
  enforceMultipath?: boolean;
  /** open-iscsi's initiator name file. */
  initiatorFile?: string;
}

/** uname -m as Python's platform.machine() reports it, from Node's arch when os.machine() is unavailable. */
export function machineOf(arch: string): string {
  const map: Record<string, string> = {
    x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l', ppc64: 'ppc64le', s390x: 's390x',
    riscv64: 'riscv64', loong64: 'loongarch64', mips64el: 'mips64',
  };
  return map[arch] ?? arch;
}

function platformMachine(): string {
  try {
    return os.machine();
  } catch {
    return machineOf(os.arch());
  }
}

/** The first non-internal IPv4 address, or 127.0.0.1 on a host without one. */
export function firstIpv4(ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string {
  for (const addrs of Object.values(ifaces)) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** The `InitiatorName=` value of an initiatorname.iscsi file's text. */
export function parseInitiatorName(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*InitiatorName\s*=\s*(\S+)\s*$/.exec(line);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

export async function hostConnector(opts: HostConnectorOptions): Promise<HostConnector> {
  const file = opts.initiatorFile ?? '/etc/iscsi/initiatorname.iscsi';
  const initiator = await fs.readFile(file, 'utf8').then(parseInitiatorName, () => undefined);
  return {
    host: opts.host,
    ip: opts.ip ?? firstIpv4(),
    ...(initiator ? { initiator } : {}),
    multipath: opts.multipath ?? false,
    enforce_multipath: opts.enforceMultipath ?? false,
    platform: platformMachine(),
    os_type: 'linux',
    do_local_attach: false,
  };
}
