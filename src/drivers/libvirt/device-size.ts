/**
 * The size of a disk's host side, for extending a volume when the caller
 * does not say the new size (Nova gets it from os-brick's extend_volume,
 * which reads the device after Cinder grew it).
 * - `<source file>`: the file's size;
 * - `<source dev>`: the block device's size from sysfs (512-byte sectors);
 * - network disks (rbd): not readable from the host, NOT_SUPPORTED.
 * The path comes from the guest's definition, so it is checked like any
 * other (host-paths.ts) and read through host-fs.ts: bounded, off the pool.
 */
import { IntentFailure } from '../../errors';
import type { HostPathPolicy } from '../host-paths';
import { childAttr } from './xml';

export async function hostDeviceSize(diskXml: string, volumeId: string, paths: HostPathPolicy, instanceUuid: string): Promise<number> {
  const file = childAttr(diskXml, 'source', 'file');
  const dev = childAttr(diskXml, 'source', 'dev');
  const source = file ?? dev;
  if (source === undefined) {
    throw new IntentFailure('NOT_SUPPORTED', `volume ${volumeId} is not a host file or block device: its new size must be given`, { volume_id: volumeId });
  }
  const checked = await paths.disk(source, file ? 'file' : 'block', { instanceUuid, field: `the disk of volume ${volumeId}` });
  if (checked.size === undefined) {
    throw new IntentFailure('DEVICE_NOT_FOUND', `volume ${volumeId}: cannot read the size of ${source} on the host`, { volume_id: volumeId });
  }
  return checked.size;
}
