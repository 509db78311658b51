/**
 * The size of a disk's host side, for extending a volume when the caller
 * does not say the new size (Nova gets it from os-brick's extend_volume,
 * which reads the device after Cinder grew it).
 * - `<source file>`: the file's size;
 * - `<source dev>`: the block device's size from sysfs (512-byte sectors);
 * - network disks (rbd): not readable from the host, NOT_SUPPORTED.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { IntentFailure } from '../../errors';
import { childAttr } from './xml';

const SECTOR_BYTES = 512;

export async function hostDeviceSize(diskXml: string, volumeId: string): Promise<number> {
  const file = childAttr(diskXml, 'source', 'file');
  const dev = childAttr(diskXml, 'source', 'dev');
  try {
    if (file) return (await fs.stat(file)).size;
    if (dev) {
      const name = path.basename(await fs.realpath(dev));
      const sectors = Number.parseInt(await fs.readFile(`/sys/class/block/${name}/size`, 'utf8'), 10);
      if (!Number.isSafeInteger(sectors)) throw new Error(`unreadable size for ${dev}`);
      return sectors * SECTOR_BYTES;
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new IntentFailure('DEVICE_NOT_FOUND', `volume ${volumeId}: cannot read the host device's size (${why})`, { volume_id: volumeId });
  }
  throw new IntentFailure('NOT_SUPPORTED', `volume ${volumeId} is not a host file or block device: its new size must be given`, { volume_id: volumeId });
}
