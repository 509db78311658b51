/**
 * The body of a host-fs.ts thread: synchronous filesystem calls on paths a
 * message named, one request at a time. Synchronous on purpose: a call that
 * never returns (a hung NFS server) blocks this thread only, never libuv's
 * pool that the rest of the worker (libvirt calls, its event loop, Node's own
 * fs) shares; host-fs.ts gives up on the thread after its time limit.
 *
 * Nothing here opens anything but a regular file, and that with O_NONBLOCK
 * and O_NOFOLLOW after a stat said regular: a FIFO, a device or a socket is
 * reported, never opened.
 */
import {
  closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync,
  type Stats, statSync,
} from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import type { FsReply, FsRequest, PathKind, Probe } from './host-fs';

const SECTOR_BYTES = 512;

function kindOf(st: Stats): PathKind {
  if (st.isFile()) return 'file';
  if (st.isBlockDevice()) return 'block';
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'char';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'other';
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Linux dev_t as glibc's major()/minor() split it. */
function majorMinor(rdev: number): string {
  const dev = BigInt(rdev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** `p` as the kernel resolves it, or, when it does not exist, its deepest existing ancestor resolved plus the rest. */
function resolve(p: string): { real: string; exists: boolean; dangling: boolean } {
  try {
    return { real: realpathSync(p), exists: true, dangling: false };
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  const dangling = (() => {
    try {
      return lstatSync(p).isSymbolicLink();
    } catch {
      return false;
    }
  })();
  const rest: string[] = [];
  let dir = p;
  for (;;) {
    rest.unshift(path.basename(dir));
    dir = path.dirname(dir);
    try {
      return { real: path.join(realpathSync(dir), ...rest), exists: false, dangling };
    } catch (err) {
      if (errno(err) !== 'ENOENT' || dir === path.dirname(dir)) throw err;
    }
  }
}

/** Entries of a directory, or [] if it cannot be read. */
function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Why the host itself holds this block device, or undefined: something
 * stacked on it (LVM, multipath, dm-crypt), a filesystem mounted from it or
 * one of its partitions, or swap on either. A device the kernel does not
 * list in sysfs is not judged here (opening it would fail anyway).
 */
function hostUse(devNo: string): string | undefined {
  const sys = `/sys/dev/block/${devNo}`;
  let name: string;
  try {
    name = path.basename(readlinkSync(sys));
  } catch {
    return undefined;
  }
  const holders = list(`${sys}/holders`);
  if (holders.length > 0) return `held by ${holders.join(', ')}`;
  const devs = new Map([[devNo, name]]);
  for (const part of list(sys).filter((e) => e.startsWith(name))) {
    try {
      devs.set(readFileSync(`${sys}/${part}/dev`, 'utf8').trim(), part);
      const stacked = list(`${sys}/${part}/holders`);
      if (stacked.length > 0) return `partition ${part} held by ${stacked.join(', ')}`;
    } catch {
      // not a partition
    }
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] && devs.has(f[2])) return `mounted at ${f[4]}`;
  }
  const names = new Set(devs.values());
  for (const line of readFileSync('/proc/swaps', 'utf8').split('\n').slice(1)) {
    const dev = line.split(/\s+/)[0] ?? '';
    if (dev.startsWith('/dev/') && names.has(path.basename(dev))) return `used as swap (${dev})`;
  }
  return undefined;
}

function probe(p: string, roots: string[]): Probe {
  const rootsReal = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return path.resolve(r);
    }
  });
  const r = resolve(p);
  if (!r.exists) return { real: r.real, kind: r.dangling ? 'dangling' : 'missing', rootsReal };
  const st = statSync(r.real);
  const kind = kindOf(st);
  if (kind === 'file') return { real: r.real, kind, size: st.size, rootsReal };
  if (kind !== 'block') return { real: r.real, kind, rootsReal };
  const devNo = majorMinor(st.rdev);
  const sectors = (() => {
    try {
      return Number.parseInt(readFileSync(`/sys/dev/block/${devNo}/size`, 'utf8'), 10);
    } catch {
      return Number.NaN;
    }
  })();
  return { real: r.real, kind, rootsReal, ...(Number.isSafeInteger(sectors) ? { size: sectors * SECTOR_BYTES } : {}), inUse: hostUse(devNo) };
}

/** Bytes of a regular file, from `at` (negative: from the end); undefined if it does not exist. */
function read(p: string, at: number, max: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(p, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW | fsc.O_NOCTTY);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${p} is not a regular file`), { code: 'ENOTREG' });
    const start = at < 0 ? Math.max(0, st.size + at) : at;
    const len = Math.max(0, Math.min(max, st.size - start));
    const buf = Buffer.alloc(len);
    const n = len > 0 ? readSync(fd, buf, 0, len, start) : 0;
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function handle(req: FsRequest): FsReply {
  try {
    switch (req.op) {
      case 'probe':
        return { id: req.id, ok: true, probe: probe(req.path, req.roots) };
      case 'read':
        return { id: req.id, ok: true, data: read(req.path, req.at, req.max) };
    }
  } catch (err) {
    return { id: req.id, ok: false, code: errno(err) ?? 'EIO', message: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on('message', (req: FsRequest) => parentPort?.postMessage(handle(req)));
