/**
 * Volume and port intents on one domain: find the device in the guest's
 * definitions, then change it by hot-plug where the hypervisor can, else by
 * redefining the persistent XML (effective at next start, `live: false`).
 *
 * The persistent (inactive) definition is the source of truth for what is
 * attached and for hostwall's facts; the live one adds what the running
 * guest has right now. Read-modify-write of the definition assumes one
 * device change per domain at a time (the driver's per-instance lane).
 */
import type { DeviceChange } from '../driver';
import type { HostPathPolicy } from '../host-paths';
import { pause } from '../stop-signal';
import { IntentFailure, StoppingError } from '../../errors';
import type { ConnectionInfo, Port } from '../../intents';
import { type Connection, isLibvirtCode } from './connection';
import { hostDeviceSize } from './device-size';
import { interfaceDevice, nextFreeTarget, tapName, targetFromDeviceName, volumeDevice, volumeHostPath } from './device-xml';
import { DomainState, type DomainPtr, ErrorNumber, Flags } from './ffi';
import { emptyFacts, factsXml, HOSTWALL_NS, HOSTWALL_PREFIX, type GuestFacts, readFacts, withFacts } from './metadata';
import { deleteSecretQuietly, ensureSecret } from './secrets';
import { childAttr, childText, findElements, insertBeforeClose, removeElement, type XmlElement } from './xml';

export interface DeviceSettings {
  nfsMountBase: string;
  /** Which host paths may back a disk: checked before the guest is looked at. */
  paths: HostPathPolicy;
  vhostuserSocketDir: string;
  /** Learnt once per driver: false after VIR_ERR_NO_SUPPORT (libvirt 9.0's test driver). */
  hotplug: boolean | undefined;
  /** ms to wait, after libvirt's own wait, for the guest to release a hot-unplugged device (removeDevice). */
  detachTimeoutMs: number;
}

interface Definitions {
  active: boolean;
  /** Persistent definition, secure (keeps e.g. graphics passwords on redefine). */
  config: string;
  /** Running definition, when active. */
  live: string | undefined;
}

async function readDefinitions(c: Connection, dom: DomainPtr): Promise<Definitions> {
  const active = (await c.domainState(dom)) !== DomainState.SHUTOFF;
  const config = await c.domainXml(dom, Flags.XML_INACTIVE | Flags.XML_SECURE);
  const live = active ? await c.domainXml(dom, Flags.XML_SECURE) : undefined;
  return { active, config, live };
}

const diskOf = (xml: string, volumeId: string) => findElements(xml, 'disk').find((d) => childText(d.text, 'serial') === volumeId);

const diskTargets = (xml: string) => findElements(xml, 'disk').map((d) => childAttr(d.text, 'target', 'dev') ?? '');

/**
 * The interface for a port. libvirt identifies interfaces by MAC, so a known
 * MAC is the only match; without one (a port hostwall has no facts for) the
 * OVS interfaceid, then Nova's tap name.
 */
function interfaceOf(xml: string, match: { mac?: string | undefined; target: string; portId: string }): XmlElement | undefined {
  const nics = findElements(xml, 'interface');
  if (match.mac !== undefined) return nics.find((i) => childAttr(i.text, 'mac', 'address')?.toLowerCase() === match.mac);
  return (
    nics.find((i) => childAttr(i.text, 'parameters', 'interfaceid') === match.portId) ??
    nics.find((i) => childAttr(i.text, 'target', 'dev') === match.target)
  );
}

function insertDevice(domainXml: string, deviceXml: string): string {
  if (/<devices\s*\/>/.test(domainXml)) return domainXml.replace(/<devices\s*\/>/, `<devices>\n${deviceXml}\n</devices>`);
  return insertBeforeClose(domainXml, 'devices', deviceXml);
}

/** Redefine the persistent definition (the running guest is untouched). */
async function redefine(c: Connection, xml: string): Promise<void> {
  c.freeDomain(await c.defineDomain(xml));
}

async function setFacts(c: Connection, dom: DomainPtr, defs: Definitions, facts: GuestFacts): Promise<void> {
  const flags = Flags.AFFECT_CONFIG | (defs.active ? Flags.AFFECT_LIVE : 0);
  await c.setMetadata(dom, Flags.METADATA_ELEMENT, factsXml(facts, { bare: true }), HOSTWALL_PREFIX, HOSTWALL_NS, flags);
}

/** Add a device; true when the running guest got it now. */
async function addDevice(c: Connection, dom: DomainPtr, s: DeviceSettings, defs: Definitions, xml: string, facts: GuestFacts): Promise<boolean> {
  if (s.hotplug !== false && (await tryHotplug(s, () => c.attachDevice(dom, xml, Flags.AFFECT_CONFIG | (defs.active ? Flags.AFFECT_LIVE : 0))))) {
    await setFacts(c, dom, defs, facts);
    return defs.active;
  }
  await redefine(c, withFacts(insertDevice(defs.config, xml), facts));
  return false;
}

/** Run a hot-plug call; false (and remembered) when the hypervisor has no hot-plug at all. */
async function tryHotplug(s: DeviceSettings, call: () => Promise<void>): Promise<boolean> {
  try {
    await call();
    s.hotplug = true;
    return true;
  } catch (err) {
    if (!isLibvirtCode(err, ErrorNumber.NO_SUPPORT)) throw err;
    s.hotplug = false;
    return false;
  }
}

/**
 * Poll the running definition until `stillLive` is false (true) or `ms`
 * passed (false); backs off from 50 ms to 1 s between reads. A guest that
 * stopped meanwhile has its persistent definition read here, which no longer
 * has the device.
 */
async function waitReleased(c: Connection, dom: DomainPtr, stillLive: (liveXml: string) => boolean, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  const deadline = Date.now() + ms;
  let delay = 50;
  for (;;) {
    if (!stillLive(await c.domainXml(dom, 0))) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await pause(Math.min(delay, left), signal, 'waiting for the guest to release the device');
    delay = Math.min(delay * 2, 1000);
  }
}

/** Remove a device; true when the running guest released it (within the detach timeout). */
async function removeDevice(
  c: Connection, dom: DomainPtr, s: DeviceSettings, defs: Definitions,
  found: { config: XmlElement | undefined; live: XmlElement | undefined },
  stillLive: (liveXml: string) => boolean, facts: GuestFacts, signal: AbortSignal | undefined,
): Promise<boolean> {
  const flags = (found.live ? Flags.AFFECT_LIVE : 0) | (found.config ? Flags.AFFECT_CONFIG : 0);
  const el = found.live ?? found.config;
  if (el && s.hotplug !== false && (await tryHotplug(s, () => c.detachDevice(dom, el.text, flags)))) {
    await setFacts(c, dom, defs, facts);
    if (!found.live) return false;
    // QEMU detaches asynchronously: the guest must release the device (PCI
    // hot-unplug through ACPI). libvirt waits ~5 s for that and then returns
    // with the unplug still pending; a guest that is busy, paused or still
    // booting answers later, and one that ignores the request keeps the
    // device (docs/libvirt.md#detach-and-shutdown-on-qemu). So wait a while longer, as Nova waits
    // device_detach_timeout, and say live:false only past that.
    return waitReleased(c, dom, stillLive, s.detachTimeoutMs, signal);
  }
  if (!found.config) {
    throw new IntentFailure('NOT_SUPPORTED', 'the device exists only in the running guest and this hypervisor cannot hot-unplug');
  }
  await redefine(c, withFacts(removeElement(defs.config, found.config), facts));
  return false;
}

/** The volume's host path checked (host-paths.ts); whether it is a block device; undefined for network disks. */
export async function checkVolumePath(s: DeviceSettings, instanceUuid: string, ci: ConnectionInfo): Promise<boolean | undefined> {
  const hp = volumeHostPath(ci, s.nfsMountBase);
  if (!hp) return undefined;
  return (await s.paths.disk(hp.path, hp.backing, { instanceUuid, field: hp.field })).backing === 'block';
}

/** `block`: checkVolumePath's answer, which the caller got before taking the guest (no libvirt call before it). */
export async function attachVolume(
  c: Connection, dom: DomainPtr, s: DeviceSettings,
  vol: { volume_id: string; connection_info: ConnectionInfo; device_name?: string | undefined },
  block: boolean | undefined,
): Promise<DeviceChange> {
  const defs = await readDefinitions(c, dom);
  const inConfig = diskOf(defs.config, vol.volume_id);
  const inLive = defs.live === undefined ? undefined : diskOf(defs.live, vol.volume_id);
  const present = inLive ?? inConfig;
  if (present) {
    // A replayed attach: report what is there rather than attach twice.
    return { live: inLive !== undefined, device: childAttr(present.text, 'target', 'dev') ?? '' };
  }
  const used = new Set([...diskTargets(defs.config), ...(defs.live ? diskTargets(defs.live) : [])]);
  let target: string;
  if (vol.device_name !== undefined) {
    target = targetFromDeviceName(vol.device_name);
    if (used.has(target)) throw new IntentFailure('INVALID_STATE', `target device ${target} is already in use`, { device: target });
  } else {
    target = nextFreeTarget(used, 'vd');
  }
  const dev = volumeDevice({ volumeId: vol.volume_id, connectionInfo: vol.connection_info, target, nfsMountBase: s.nfsMountBase, block });
  const facts = readFacts(defs.config) ?? emptyFacts();
  facts.volumes.push({
    volume_id: vol.volume_id,
    driver_volume_type: dev.driverVolumeType,
    device: target,
    secret: dev.secret ? { usage_type: dev.secret.usageType, usage_id: dev.secret.usageId } : undefined,
  });
  const secret = dev.secret ? await ensureSecret(c, dev.secret) : undefined;
  try {
    return { live: await addDevice(c, dom, s, defs, dev.xml, facts), device: target };
  } catch (err) {
    if (dev.secret && secret?.created) await deleteSecretQuietly(c, dev.secret.usageType, dev.secret.usageId);
    throw err;
  }
}

export async function detachVolume(c: Connection, dom: DomainPtr, s: DeviceSettings, volumeId: string, signal?: AbortSignal): Promise<DeviceChange> {
  const defs = await readDefinitions(c, dom);
  const found = { config: diskOf(defs.config, volumeId), live: defs.live === undefined ? undefined : diskOf(defs.live, volumeId) };
  const el = found.live ?? found.config;
  if (!el) throw new IntentFailure('DEVICE_NOT_FOUND', `volume ${volumeId} is not attached`, { volume_id: volumeId });
  const facts = readFacts(defs.config) ?? emptyFacts();
  const fact = facts.volumes.find((v) => v.volume_id === volumeId);
  facts.volumes = facts.volumes.filter((v) => v.volume_id !== volumeId);
  let live: boolean;
  try {
    live = await removeDevice(c, dom, s, defs, found, (x) => diskOf(x, volumeId) !== undefined, facts, signal);
  } catch (err) {
    // A wait for the guest cut short by the worker's stop: the volume is
    // already gone from the definition and the guest's facts, so a retry finds
    // nothing to detach and would never come back for its secret. Deleting it
    // now is what a detach past device_detach_timeout does too. Any other
    // failure left the definition as it was, secret still needed.
    if (err instanceof StoppingError && fact?.secret) await deleteSecretQuietly(c, fact.secret.usage_type, fact.secret.usage_id);
    throw err;
  }
  if (fact?.secret) await deleteSecretQuietly(c, fact.secret.usage_type, fact.secret.usage_id);
  return { live, device: childAttr(el.text, 'target', 'dev') ?? '' };
}

export async function plugPort(c: Connection, dom: DomainPtr, s: DeviceSettings, port: Port): Promise<DeviceChange> {
  const defs = await readDefinitions(c, dom);
  const nic = interfaceDevice(port, { vhostuserSocketDir: s.vhostuserSocketDir });
  const match = { mac: nic.mac, target: nic.target, portId: port.port_id };
  const inLive = defs.live === undefined ? undefined : interfaceOf(defs.live, match);
  const present = inLive ?? interfaceOf(defs.config, match);
  if (present) return { live: inLive !== undefined, device: childAttr(present.text, 'target', 'dev') ?? nic.target };
  const facts = readFacts(defs.config) ?? emptyFacts();
  facts.ports.push({ port_id: port.port_id, vif_type: port.vif_type, mac_address: nic.mac, device: nic.target });
  return { live: await addDevice(c, dom, s, defs, nic.xml, facts), device: nic.target };
}

export async function unplugPort(c: Connection, dom: DomainPtr, s: DeviceSettings, portId: string, signal?: AbortSignal): Promise<DeviceChange> {
  const defs = await readDefinitions(c, dom);
  const facts = readFacts(defs.config) ?? emptyFacts();
  const fact = facts.ports.find((p) => p.port_id === portId);
  const match = { mac: fact?.mac_address, target: fact?.device ?? tapName(portId), portId };
  const found = { config: interfaceOf(defs.config, match), live: defs.live === undefined ? undefined : interfaceOf(defs.live, match) };
  const el = found.live ?? found.config;
  if (!el) throw new IntentFailure('DEVICE_NOT_FOUND', `port ${portId} is not plugged`, { port_id: portId });
  facts.ports = facts.ports.filter((p) => p.port_id !== portId);
  const live = await removeDevice(c, dom, s, defs, found, (x) => interfaceOf(x, match) !== undefined, facts, signal);
  return { live, device: childAttr(el.text, 'target', 'dev') ?? match.target };
}

/**
 * Tell the guest a volume grew (Nova's extend_volume): virDomainBlockResize on
 * the disk whose serial is the volume id, to `newSizeBytes` or to what the
 * host device now measures. Only a running or paused guest is told (as
 * Nova); a stopped one sees the size when it starts (`live: false`). libvirt
 * 9.0's test driver has no block resize: NOT_SUPPORTED.
 */
export async function extendVolume(c: Connection, dom: DomainPtr, s: DeviceSettings, uuid: string, volumeId: string, newSizeBytes?: number): Promise<DeviceChange> {
  const defs = await readDefinitions(c, dom);
  const live = defs.live === undefined ? undefined : diskOf(defs.live, volumeId);
  const el = live ?? diskOf(defs.config, volumeId);
  if (!el) throw new IntentFailure('DEVICE_NOT_FOUND', `volume ${volumeId} is not attached`, { volume_id: volumeId });
  const device = childAttr(el.text, 'target', 'dev') ?? '';
  const state = await c.domainState(dom);
  const running = state === DomainState.RUNNING || state === DomainState.BLOCKED || state === DomainState.PAUSED;
  if (!live || !running) return { live: false, device };
  const size = newSizeBytes ?? (await hostDeviceSize(live.text, volumeId, s.paths, uuid));
  if (!Number.isSafeInteger(size) || size <= 0) throw new IntentFailure('INTERNAL', `volume ${volumeId}: new size ${size} is not a positive byte count`);
  await c.blockResize(dom, device, size, Flags.BLOCK_RESIZE_BYTES);
  return { live: true, device };
}
