/**
 * Domain XML for instance.spawn. Pure: the driver decides where the root disk
 * lives and creates secrets; this file only writes the document.
 *
 * What the guest gets:
 * - name = spec.name (libvirt's unique name on the host, Nova's
 *   `instance-0000000a`), uuid = instance_uuid, memory in MiB, vcpus;
 * - a root disk vda when the driver plans one (see rootDiskPlan);
 * - one virtio disk per spawn volume (vdb, vdc... in order) and one
 *   interface per port, built by device-xml.ts;
 * - `<metadata>` with hostwall's facts (metadata.ts), so the guest describes
 *   itself after a worker restart;
 * - on real hypervisors, a serial console whose output libvirt (virtlogd)
 *   also writes to `<instance dir>/console.log`, as Nova's guests have, for
 *   get_console_output (console-log.ts).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { ConfigError } from '../../errors';
import type { SpawnArgs } from '../../intents';
import { interfaceDevice, nextFreeTarget, type SecretRequest, volumeDevice } from './device-xml';
import { factsXml, type GuestFacts } from './metadata';
import { escapeAttr, escapeText } from './xml';

/** libvirt domain types hostwall writes. */
export type DomainType = 'test' | 'qemu' | 'kvm';
/** What the operator asks of qemu:// guests (Nova's [libvirt] virt_type). */
export type VirtType = 'auto' | 'kvm' | 'qemu';

/**
 * test:// URIs (and test+unix://...) get the test driver's type; qemu://
 * gets the operator's virt type, or with 'auto' kvm when the host has
 * /dev/kvm, else qemu (TCG, slow but real). A /dev/kvm is not proof that KVM
 * runs a guest: nested under another hypervisor it may fail to emulate a
 * boot loader's mode switches ("emulation failure", seen on these machines),
 * which is why Nova's virt_type is the operator's to set.
 */
export function domainTypeForUri(uri: string, kvmAvailable: boolean, virtType: VirtType = 'auto'): DomainType {
  const scheme = /^([a-z0-9]+)(?:\+[a-z0-9]+)?:/i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'test') return 'test';
  if (scheme === 'qemu') return virtType === 'auto' ? (kvmAvailable ? 'kvm' : 'qemu') : virtType;
  throw new ConfigError(`libvirt URI '${uri}': unsupported scheme (test:// or qemu://)`);
}

export interface RootDisk {
  path: string;
  format: 'raw' | 'qcow2';
  /** true when hostwall made up the path (instances dir) and owns the file. */
  generated: boolean;
  sizeGb: number;
}

/**
 * Where the root disk is, without touching the filesystem:
 * - image.path given: that file is the root disk, as-is. No copy-on-write
 *   overlay is made (that needs qemu-img); whoever stages the image must give
 *   each instance its own file. Format by extension here; the driver may
 *   refine it from the file's header.
 * - else root_gb > 0: `<instancesPath>/<uuid>/disk`, a raw disk of root_gb
 *   that the driver creates on real hypervisors (and that need not exist on
 *   the test driver): a copy of the cached image of image.id when the image
 *   cache has one (cachedImagePath), else empty and sparse.
 * - else: no root disk (diskless guest).
 */
export function rootDiskPlan(spec: SpawnArgs, instancesPath: string): RootDisk | undefined {
  if (spec.image?.path) {
    const format = /\.qcow2?$/i.test(spec.image.path) ? 'qcow2' : 'raw';
    return { path: spec.image.path, format, generated: false, sizeGb: spec.flavor.root_gb };
  }
  if (spec.flavor.root_gb > 0) {
    return { path: instanceDiskPath(instancesPath, spec.instance_uuid), format: 'raw', generated: true, sizeGb: spec.flavor.root_gb };
  }
  return undefined;
}

/**
 * Where Nova's image cache keeps an image: `<image cache>/<sha1 of its id>`
 * (nova.virt.libvirt.imagecache, `$instances_path/_base`). hostwall fetches
 * no image; whoever stages them (Nova's cache shared with the host, an
 * operator, a test) puts them there.
 */
export function cachedImagePath(imageCachePath: string, imageId: string): string {
  return path.join(imageCachePath, createHash('sha1').update(imageId, 'utf8').digest('hex'));
}

export function instanceDir(instancesPath: string, uuid: string): string {
  return path.join(instancesPath, uuid.toLowerCase());
}

export function instanceDiskPath(instancesPath: string, uuid: string): string {
  return path.join(instanceDir(instancesPath, uuid), 'disk');
}

export function instanceConsoleLogPath(instancesPath: string, uuid: string): string {
  return path.join(instanceDir(instancesPath, uuid), 'console.log');
}

export interface DomainXmlOptions {
  domainType: DomainType;
  rootDisk?: RootDisk | undefined;
  nfsMountBase: string;
  vhostuserSocketDir: string;
  /** `<cpu mode>` for qemu/kvm guests; unset leaves libvirt's default model. */
  cpuMode?: 'host-model' | 'host-passthrough' | undefined;
  /** Where libvirt logs the serial console of a qemu/kvm guest; its directory must exist before start. */
  consoleLog?: string | undefined;
  /** Spawn volumes whose checked host path is a block device (host-paths.ts), by volume id. */
  blockVolumes?: ReadonlySet<string> | undefined;
}

export interface BuiltDomain {
  xml: string;
  /** Secrets the volumes need; define them before the domain starts. */
  secrets: SecretRequest[];
  facts: GuestFacts;
}

function indent(block: string, by: string): string {
  return block
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

export function buildDomainXml(spec: SpawnArgs, opts: DomainXmlOptions): BuiltDomain {
  const used: string[] = [];
  const devices: string[] = [];
  if (opts.rootDisk) {
    used.push('vda');
    const d = opts.rootDisk;
    devices.push(
      [
        "<disk type='file' device='disk'>",
        `  <driver name='qemu' type='${d.format}'/>`,
        `  <source file='${escapeAttr(d.path)}'/>`,
        "  <target dev='vda' bus='virtio'/>",
        '</disk>',
      ].join('\n'),
    );
  }
  const facts: GuestFacts = {
    flavor: spec.flavor,
    image_id: spec.image?.id,
    metadata: { ...(spec.metadata ?? {}) },
    ports: [],
    volumes: [],
  };
  const secrets: SecretRequest[] = [];
  for (const v of spec.volumes ?? []) {
    const target = nextFreeTarget(used);
    used.push(target);
    const block = opts.blockVolumes === undefined ? undefined : opts.blockVolumes.has(v.volume_id);
    const dev = volumeDevice({ volumeId: v.volume_id, connectionInfo: v.connection_info, target, nfsMountBase: opts.nfsMountBase, block });
    devices.push(dev.xml);
    if (dev.secret) secrets.push(dev.secret);
    facts.volumes.push({
      volume_id: v.volume_id,
      driver_volume_type: dev.driverVolumeType,
      device: target,
      secret: dev.secret ? { usage_type: dev.secret.usageType, usage_id: dev.secret.usageId } : undefined,
    });
  }
  for (const p of spec.ports ?? []) {
    const nic = interfaceDevice(p, { vhostuserSocketDir: opts.vhostuserSocketDir });
    devices.push(nic.xml);
    facts.ports.push({ port_id: p.port_id, vif_type: p.vif_type, mac_address: nic.mac, device: nic.target });
  }
  const real = opts.domainType !== 'test';
  if (real) {
    // A console to read boot output from, as Nova gives every guest; append='off' starts the log afresh at each boot, as Nova's.
    const log = opts.consoleLog ? `<log file='${escapeAttr(opts.consoleLog)}' append='off'/>` : '';
    devices.push(`<serial type='pty'>${log}<target port='0'/></serial>`, "<console type='pty'><target type='serial' port='0'/></console>");
  }
  const xml = [
    `<domain type='${opts.domainType}'>`,
    `  <name>${escapeText(spec.name)}</name>`,
    `  <uuid>${escapeText(spec.instance_uuid.toLowerCase())}</uuid>`,
    // Not re-indented: user metadata values may span lines and must stay exact.
    '  <metadata>',
    factsXml(facts),
    '  </metadata>',
    `  <memory unit='MiB'>${spec.flavor.memory_mb}</memory>`,
    `  <vcpu>${spec.flavor.vcpus}</vcpu>`,
    "  <os><type>hvm</type><boot dev='hd'/></os>",
    // ACPI is what a clean power off (virDomainShutdown) and soft reboot talk to.
    '  <features><acpi/><apic/></features>',
    ...(opts.cpuMode && real ? [`  <cpu mode='${opts.cpuMode}'/>`] : []),
    "  <clock offset='utc'/>",
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    ...devices.map((d) => indent(d, '    ')),
    '  </devices>',
    '</domain>',
  ].join('\n');
  return { xml, secrets, facts };
}
