/**
 * Guest device names for volumes: reserving one (Nova's
 * reserve_block_device_name), attaching with it, and telling the guest a
 * volume grew.
 *
 * Reservation contract: volume.reserve_device runs on the instance's lane (it
 * locks the instance and the volume), picks a name no device of the guest and
 * no other reservation of it holds, and records it in the instance book. The
 * volume.attach of that volume uses it (when it names no device itself) and
 * ends it, whatever its outcome; so does a detach of the volume or the
 * instance's destroy. A reservation nobody attaches lapses (InstanceBook
 * reservationTtlMs). Reservations live in the worker's memory: a restart
 * forgets them, and an attach then still uses the device name its message
 * carries (Nova's does: the reserved BDM's).
 *
 * "The guest's devices" are what the worker can know without a hypervisor
 * call the Driver interface lacks: the root disk vda (Nova, too, counts the
 * root device as taken), the volumes attached since the worker started
 * (the instance book), and the volumes the driver recorded in the guest
 * itself when it can list them (libvirt: hostwall's facts in the guest's
 * metadata, which survive restarts). A disk added behind hostwall's back is
 * not seen; the attach then fails INVALID_STATE naming the device, and
 * nothing is changed.
 *
 * Buses: the libvirt driver takes a disk's bus from its target name, as
 * Nova's blockinfo names them (vd virtio, sd scsi, hd ide, xvd xen), so those
 * four buses are served; sata, usb, fdc, uml and lxc would need a bus the
 * name does not say, and are NOT_SUPPORTED. Only device_type disk is served
 * (the driver writes disks; cdrom, floppy, fs and lun are NOT_SUPPORTED), and
 * no multiattach (the driver writes no shareable disks, like a Nova driver
 * without supports_multiattach).
 */
import type { DeviceChange, Driver } from '../drivers/driver';
import { IntentFailure } from '../errors';
import type { IntentArgs } from '../intents';
import type { InstanceBook } from '../host-state/instance-book';

type DiskBus = NonNullable<IntentArgs<'volume.attach'>['disk_bus']>;
type DeviceType = NonNullable<IntentArgs<'volume.attach'>['device_type']>;

const PREFIX_OF_BUS: Partial<Record<DiskBus, string>> = { virtio: 'vd', scsi: 'sd', ide: 'hd', xen: 'xvd' };
const BUS_OF_PREFIX: Record<string, DiskBus> = { vd: 'virtio', sd: 'scsi', hd: 'ide', xvd: 'xen' };

/** `vdb` from `vdb` or `/dev/vdb`. */
export function targetOf(deviceName: string): string {
  return deviceName.replace(/^\/dev\//, '');
}

function prefixOf(target: string): string | undefined {
  return ['xvd', 'vd', 'sd', 'hd'].find((p) => target.startsWith(p) && /^[a-z]{1,2}$/.test(target.slice(p.length)));
}

/** The target prefix of a bus (absent: virtio); NOT_SUPPORTED for a bus no target name expresses. */
export function prefixForBus(bus: DiskBus | undefined): string {
  const prefix = PREFIX_OF_BUS[bus ?? 'virtio'];
  if (prefix === undefined) {
    throw new IntentFailure('NOT_SUPPORTED', `disk_bus ${bus}: the driver takes a disk's bus from its device name, which says only virtio (vd), scsi (sd), ide (hd) or xen (xvd)`, { disk_bus: bus });
  }
  return prefix;
}

export function checkDeviceType(type: DeviceType | undefined): void {
  if (type !== undefined && type !== 'disk') {
    throw new IntentFailure('NOT_SUPPORTED', `device_type ${type}: the driver attaches volumes as disks only`, { device_type: type });
  }
}

/** A device name must agree with the disk_bus given with it. */
function checkBusOfName(target: string, bus: DiskBus): void {
  const prefix = prefixOf(target);
  if (prefix === undefined) {
    throw new IntentFailure('NOT_SUPPORTED', `device ${target}: the driver names disks vdX, sdX, hdX or xvdX`, { device: target });
  }
  if (BUS_OF_PREFIX[prefix] !== bus) {
    throw new IntentFailure('NOT_SUPPORTED', `device ${target} is on bus ${BUS_OF_PREFIX[prefix]}, not the disk_bus ${bus} asked for (the driver takes the bus from the name)`, { device: target, disk_bus: bus });
  }
}

function* suffixes(): Generator<string> {
  const abc = 'abcdefghijklmnopqrstuvwxyz';
  for (const a of abc) yield a;
  for (const a of abc) for (const b of abc) yield a + b;
}

function nextFree(used: ReadonlySet<string>, prefix: string): string {
  for (const s of suffixes()) if (!used.has(prefix + s)) return prefix + s;
  throw new IntentFailure('INVALID_STATE', `no free ${prefix}X device name left`, { prefix });
}

/** Device names the guest's disks hold, as far as the worker can know (see the file header). */
async function knownTargets(driver: Driver, book: InstanceBook, uuid: string): Promise<Set<string>> {
  const used = new Set(['vda']);
  for (const v of book.get(uuid)?.volumes ?? []) if (v.device) used.add(v.device);
  for (const v of (await driver.guestFacts?.(uuid))?.volumes ?? []) used.add(v.device);
  return used;
}

export interface DeviceDeps {
  driver: Driver;
  book: InstanceBook;
}

/** volume.reserve_device: the name now held for the volume. */
export async function reserveDevice(a: IntentArgs<'volume.reserve_device'>, deps: DeviceDeps): Promise<{ device: string }> {
  const { driver, book } = deps;
  checkDeviceType(a.device_type);
  if (a.multiattach) throw new IntentFailure('NOT_SUPPORTED', 'multiattach: the driver attaches no shareable disks', { volume_id: a.volume_id });
  const prefix = prefixForBus(a.disk_bus);
  // The guest must exist (INSTANCE_NOT_FOUND otherwise), as Nova's compute checks the instance first.
  await driver.getState(a.instance_uuid);
  const mine = book.reservationOf(a.instance_uuid, a.volume_id);
  const wanted = a.device_name === undefined ? undefined : targetOf(a.device_name);
  // Asked again for the same volume: the same name, unless another one is asked for explicitly.
  if (mine && (wanted === undefined || wanted === mine.device) && prefixOf(mine.device) === prefix) {
    return { device: book.reserve(a.instance_uuid, a.volume_id, mine.device).device };
  }
  const used = await knownTargets(driver, book, a.instance_uuid);
  for (const r of book.reservations(a.instance_uuid)) if (r.volume_id !== a.volume_id) used.add(r.device);
  // The name asked for when it is free and on the bus asked for; otherwise the next free one (the host may choose, as Nova's libvirt driver does).
  const device = wanted !== undefined && prefixOf(wanted) === prefix && !used.has(wanted) ? wanted : nextFree(used, prefix);
  return { device: book.reserve(a.instance_uuid, a.volume_id, device).device };
}

/**
 * volume.attach: the device name is the message's, else the volume's
 * reservation, else the next free one when a reservation or a bus other than
 * virtio must be respected, else the driver's choice (it knows the guest's
 * disks exactly). The volume's reservation ends with the attach, however it
 * ends.
 */
export async function attachVolume(a: IntentArgs<'volume.attach'>, deps: DeviceDeps): Promise<DeviceChange> {
  const { driver, book } = deps;
  const uuid = a.instance_uuid;
  try {
    checkDeviceType(a.device_type);
    const prefix = prefixForBus(a.disk_bus);
    const others = book.reservations(uuid).filter((r) => r.volume_id !== a.volume_id);
    let target = a.device_name !== undefined ? targetOf(a.device_name) : book.reservationOf(uuid, a.volume_id)?.device;
    if (target !== undefined) {
      if (a.disk_bus !== undefined) checkBusOfName(target, a.disk_bus);
      const holder = others.find((r) => r.device === target);
      if (holder) throw new IntentFailure('INVALID_STATE', `device ${target} is reserved for volume ${holder.volume_id}`, { device: target, volume_id: holder.volume_id });
    } else if (others.length > 0 || prefix !== 'vd') {
      const used = await knownTargets(driver, book, uuid);
      for (const r of others) used.add(r.device);
      target = nextFree(used, prefix);
    }
    return await driver.attachVolume(uuid, { volume_id: a.volume_id, connection_info: a.connection_info, device_name: target });
  } finally {
    book.release(uuid, a.volume_id);
  }
}

/** volume.extend: NOT_SUPPORTED where the driver cannot resize a guest's disk. */
export async function extendVolume(a: IntentArgs<'volume.extend'>, driver: Driver): Promise<DeviceChange> {
  if (!driver.extendVolume) throw new IntentFailure('NOT_SUPPORTED', `driver ${driver.name} cannot extend a guest's volume`, { volume_id: a.volume_id });
  return driver.extendVolume(a.instance_uuid, a.volume_id, a.new_size_bytes);
}
