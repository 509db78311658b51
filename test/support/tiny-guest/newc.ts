/**
 * A cpio archive in the "newc" format, the one the Linux kernel unpacks as
 * an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
 * Written here rather than by cpio(1) so that a device node needs no mknod
 * (nor root) and the same inputs always give the same bytes (owner 0,
 * mtime 0, inode numbers by position): the tiny guest's cache key then says
 * everything about the image.
 */

export type NewcEntry =
  | { path: string; kind: 'dir' }
  | { path: string; kind: 'file'; data: Buffer; executable?: boolean }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'chardev'; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function record(ino: number, mode: number, name: string, data: Buffer, rdev: { major: number; minor: number } = { major: 0, minor: 0 }): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const fields = [ino, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev.major, rdev.minor, nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'ascii');
  return Buffer.concat([header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length))]);
}

function entryRecord(e: NewcEntry, ino: number): Buffer {
  const name = e.path.replace(/^\/+/, '');
  switch (e.kind) {
    case 'dir':
      return record(ino, S_IFDIR | 0o755, name, Buffer.alloc(0));
    case 'file':
      return record(ino, S_IFREG | (e.executable ? 0o755 : 0o644), name, e.data);
    case 'symlink':
      return record(ino, S_IFLNK | 0o777, name, Buffer.from(e.target, 'utf8'));
    default:
      return record(ino, S_IFCHR | 0o600, name, Buffer.alloc(0), e);
  }
}

/** The archive of `entries` in the order given (a directory before what it holds), with its trailer. */
export function newcArchive(entries: readonly NewcEntry[]): Buffer {
  return Buffer.concat([...entries.map((e, i) => entryRecord(e, i + 1)), record(0, 0, 'TRAILER!!!', Buffer.alloc(0))]);
}
