/**
 * Which host paths a message may hand a guest as a disk, checked before any
 * hypervisor call and before the worker opens anything.
 *
 * Nova and os-brick only ever give libvirt paths they made themselves; a
 * message can name any. So every host path that would reach a domain
 * definition (a spawn's image.path, a volume's device_path, an NFS volume's
 * mount point plus name) or that the worker reads itself (a size, a console
 * log) must be:
 * - absolute, without a `..` segment (refused, not normalised away);
 * - for a file-backed disk: a regular file whose path as given and whose
 *   resolution (every symlink followed) both lie inside a file root: the
 *   instances path, the image cache, the NFS mount base or an allow-listed
 *   directory. Inside the instances path, a directory named like an instance
 *   uuid belongs to that instance only: another guest's disk is refused;
 * - for a block-backed disk: named through a block-device directory
 *   (/dev/disk/by-path for iSCSI, /dev/disk/by-id and /dev/mapper for FC and
 *   multipath, as os-brick names them) or an allow-listed directory, and
 *   resolving to a block device that the host itself does not use (mounted,
 *   swap, held by LVM or device-mapper);
 * - existing, except where the hypervisor never opens disks (libvirt's test
 *   driver): there a missing path inside the roots is accepted as named.
 * Anything else fails PATH_NOT_ALLOWED naming the path and the roots.
 * The filesystem calls themselves are host-fs.ts's: bounded, off the pool.
 */
import * as path from 'node:path';
import { ConfigError, IntentFailure } from '../errors';
import type { HostFs, PathKind, Probe } from './host-fs';

export interface HostPathRoots {
  instancesPath: string;
  imageCachePath: string;
  nfsMountBase: string;
  /** Directories whose files and block devices may back disks, besides the above. */
  allow: readonly string[];
  /** Directories through which block devices are named (resolved through their symlinks). */
  blockDeviceDirs: readonly string[];
}

export const DEFAULT_HOST_PATH_ALLOW = ['/var/lib/hostwall/volumes'];
/** Where os-brick's connectors find attached volumes: iSCSI by path, FC and multipath by id and in the mapper. */
export const DEFAULT_BLOCK_DEVICE_DIRS = ['/dev/disk/by-path', '/dev/disk/by-id', '/dev/mapper'];

/** The roots with their defaults (image cache `<instancesPath>/_base`, as Nova's); each must be absolute. */
export function hostPathRoots(o: {
  instancesPath: string;
  nfsMountBase: string;
  imageCachePath?: string | undefined;
  allow?: readonly string[] | undefined;
  blockDeviceDirs?: readonly string[] | undefined;
}): HostPathRoots {
  const roots: HostPathRoots = {
    instancesPath: o.instancesPath,
    nfsMountBase: o.nfsMountBase,
    imageCachePath: o.imageCachePath ?? path.join(o.instancesPath, '_base'),
    allow: o.allow ?? DEFAULT_HOST_PATH_ALLOW,
    blockDeviceDirs: o.blockDeviceDirs ?? DEFAULT_BLOCK_DEVICE_DIRS,
  };
  for (const d of [roots.instancesPath, roots.nfsMountBase, roots.imageCachePath, ...roots.allow, ...roots.blockDeviceDirs]) {
    if (!path.isAbsolute(d)) throw new ConfigError(`host path roots must be absolute directories, got ${JSON.stringify(d)}`);
  }
  return roots;
}

export type Backing = 'file' | 'block';

export interface CheckedPath {
  /** As given, normalised: what the domain definition names. */
  path: string;
  /** What it resolves to. */
  real: string;
  /** 'missing' only where missing paths are accepted. */
  kind: Backing | 'missing';
  /** The disk it backs: `<source file>` or `<source dev>` (for a missing path, what its root says). */
  backing: Backing;
  size?: number | undefined;
}

export interface PathUse {
  /** Whose disk: inside the instances path, only this instance's directory is open to it. */
  instanceUuid: string;
  /** The message field it came from, for the error (image.path, connection_info.data.device_path). */
  field: string;
}

const KIND_WORDS: Record<PathKind, string> = {
  file: 'a regular file', block: 'a block device', directory: 'a directory', char: 'a character device', fifo: 'a FIFO',
  socket: 'a socket', other: 'not a file', missing: 'nothing', dangling: 'a dangling symlink',
};

const UUID_DIR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const inside = (p: string, root: string) => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

export class HostPathPolicy {
  constructor(
    private readonly roots: HostPathRoots,
    private readonly fs: HostFs,
    /** true where the hypervisor never opens a disk (libvirt's test driver). */
    private readonly missingAllowed: boolean,
  ) {}

  private get fileRoots(): string[] {
    const r = this.roots;
    return [r.instancesPath, r.imageCachePath, r.nfsMountBase, ...r.allow].map((p) => path.resolve(p));
  }

  private get blockRoots(): string[] {
    return [...this.roots.blockDeviceDirs, ...this.roots.allow].map((p) => path.resolve(p));
  }

  /** Why `p` is refused before the filesystem is asked, in words (for the error), else undefined. */
  private lexical(p: string): string | undefined {
    if (p.includes('\0')) return 'contains a NUL byte';
    if (!path.isAbsolute(p)) return 'is not an absolute path';
    if (p.split('/').includes('..')) return 'climbs with ..';
    return undefined;
  }

  private refuse(p: string, use: PathUse, why: string, roots: string[]): IntentFailure {
    return new IntentFailure('PATH_NOT_ALLOWED', `${use.field} ${JSON.stringify(p)} ${why} (allowed: ${roots.join(', ')})`, {
      path: p, field: use.field, instance_uuid: use.instanceUuid, roots,
    });
  }

  /**
   * A disk's host side: `backing` 'file' for `<source file>`, 'block' for
   * `<source dev>`, 'either' where the path decides (a `local`/`file`
   * volume: a block device named through a block-device directory, else a
   * regular file).
   */
  async disk(given: string, backing: Backing | 'either', use: PathUse): Promise<CheckedPath> {
    const fileRoots = backing === 'block' ? [] : this.fileRoots;
    const blockRoots = backing === 'file' ? [] : this.blockRoots;
    const all = [...new Set([...fileRoots, ...blockRoots])];
    const lexically = this.lexical(given);
    if (lexically) throw this.refuse(given, use, lexically, all);
    const p = path.normalize(given);
    const viaFile = fileRoots.some((r) => inside(p, r));
    const viaBlock = blockRoots.some((r) => inside(p, r));
    if (!viaFile && !viaBlock) throw this.refuse(p, use, 'is in none of the directories allowed', all);
    const probe = await this.fs.probe(p, fileRoots);
    if (probe.kind === 'block' && viaBlock) {
      if (probe.inUse) throw this.refuse(p, use, `resolves to ${probe.real}, which the host uses (${probe.inUse})`, blockRoots);
      return { path: p, real: probe.real, kind: 'block', backing: 'block', size: probe.size };
    }
    if (probe.kind === 'file' && viaFile) {
      if (!probe.rootsReal.some((r) => inside(probe.real, r))) throw this.refuse(p, use, `resolves to ${probe.real}, outside the roots`, fileRoots);
      this.ownInstanceOnly(p, probe, use, fileRoots);
      return { path: p, real: probe.real, kind: 'file', backing: 'file', size: probe.size };
    }
    const wanted: Backing = viaFile && (backing === 'file' || !p.startsWith('/dev/')) ? 'file' : 'block';
    if (probe.kind === 'missing' && this.missingAllowed) {
      if (wanted === 'file' && !probe.rootsReal.some((r) => inside(probe.real, r))) throw this.refuse(p, use, `resolves to ${probe.real}, outside the roots`, fileRoots);
      if (wanted === 'file') this.ownInstanceOnly(p, probe, use, fileRoots);
      return { path: p, real: probe.real, kind: 'missing', backing: wanted };
    }
    const what =
      probe.kind === 'missing' ? 'does not exist'
      : probe.kind === 'dangling' ? 'is a dangling symlink'
      : probe.kind === 'block' ? `resolves to the block device ${probe.real}, not named through a block-device directory`
      : probe.kind === 'file' ? `resolves to the file ${probe.real}, outside the file roots`
      : `resolves to ${probe.real}, ${KIND_WORDS[probe.kind]}`;
    throw this.refuse(p, use, `${what}; a disk must be ${wanted === 'file' ? 'a regular file' : 'a block device'}`, wanted === 'file' ? fileRoots : blockRoots);
  }

  /** A directory named like an instance uuid inside the instances path is that instance's alone (as named, and as resolved). */
  private ownInstanceOnly(p: string, probe: Probe, use: PathUse, roots: string[]): void {
    const pairs: [string, string | undefined][] = [[p, path.resolve(this.roots.instancesPath)], [probe.real, probe.rootsReal[0]]];
    for (const [candidate, base] of pairs) {
      if (base === undefined || !inside(candidate, base) || candidate === base) continue;
      const owner = path.relative(base, candidate).split('/')[0] ?? '';
      if (UUID_DIR.test(owner) && owner.toLowerCase() !== use.instanceUuid.toLowerCase()) {
        throw this.refuse(p, use, `is in instance ${owner}'s directory`, roots);
      }
    }
  }

  /**
   * A console log the worker reads for `instanceUuid`: inside that
   * instance's own directory, a regular file or missing (no output yet).
   */
  async consoleLog(given: string, instanceDir: string, use: PathUse): Promise<string | undefined> {
    const roots = [path.resolve(instanceDir)];
    const lexically = this.lexical(given);
    if (lexically) throw this.refuse(given, use, lexically, roots);
    const p = path.normalize(given);
    if (!inside(p, roots[0] ?? '')) throw this.refuse(p, use, 'is not in the instance\'s directory', roots);
    const probe = await this.fs.probe(p, roots);
    if (!probe.rootsReal.some((r) => inside(probe.real, r))) throw this.refuse(p, use, `resolves to ${probe.real}, outside the instance's directory`, roots);
    if (probe.kind === 'missing') return undefined;
    if (probe.kind !== 'file') throw this.refuse(p, use, `is ${KIND_WORDS[probe.kind]}, not a regular file`, roots);
    return probe.real;
  }
}
