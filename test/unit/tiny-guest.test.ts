/**
 * The pieces of the tiny test guest that can be checked without booting it
 * (test/support/tiny-guest/): the initramfs archive format and the module
 * load order. The QEMU tiers boot the real thing.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { moduleClosure, moduleDepends } from '../support/tiny-guest/kernel-modules';
import { newcArchive } from '../support/tiny-guest/newc';

interface Parsed {
  name: string;
  mode: number;
  rdev: [number, number];
  data: Buffer;
}

/** Read a newc archive back as the kernel does (Documentation/driver-api/early-userspace/buffer-format.rst). */
function parseNewc(buf: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  const align = (n: number) => n + ((4 - (n % 4)) % 4);
  for (;;) {
    expect(buf.toString('ascii', at, at + 6)).to.equal('070701');
    const field = (i: number) => Number.parseInt(buf.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const [mode, size, rmaj, rmin, namesize] = [field(1), field(6), field(9), field(10), field(11)];
    const name = buf.toString('utf8', at + 110, at + 110 + namesize - 1);
    const dataAt = align(at + 110 + namesize);
    const data = buf.subarray(dataAt, dataAt + size);
    at = align(dataAt + size);
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, rdev: [rmaj, rmin], data });
  }
  expect(at).to.equal(buf.length);
  return out;
}

describe('tiny guest: initramfs archive (newc)', () => {
  it('writes directories, files with their mode, symlinks and a device node, 4-byte aligned, ending in the trailer', () => {
    const archive = newcArchive([
      { path: 'bin', kind: 'dir' },
      { path: '/init', kind: 'file', data: Buffer.from('#!/bin/sh\n'), executable: true },
      { path: 'etc/odd', kind: 'file', data: Buffer.from('abcde') },
      { path: 'bin/sh', kind: 'symlink', target: 'busybox' },
      { path: 'dev/console', kind: 'chardev', major: 5, minor: 1 },
    ]);
    const entries = parseNewc(archive);
    expect(entries.map((e) => [e.name, e.mode.toString(8)])).to.deep.equal([
      ['bin', '40755'], ['init', '100755'], ['etc/odd', '100644'], ['bin/sh', '120777'], ['dev/console', '20600'],
    ]);
    expect(entries[2]?.data.toString()).to.equal('abcde');
    expect(entries[3]?.data.toString()).to.equal('busybox');
    expect(entries[4]?.rdev).to.deep.equal([5, 1]);
  });

  it('gives the same bytes for the same entries (the cache key covers the image)', () => {
    const entries = [{ path: 'a', kind: 'file' as const, data: Buffer.from('x') }];
    expect(newcArchive(entries).equals(newcArchive(entries))).to.equal(true);
  });
});

describe('tiny guest: kernel modules', () => {
  const ko = (depends: string) => Buffer.concat([Buffer.from('\x7fELF...'), Buffer.from(`\0license=GPL\0depends=${depends}\0vermagic=6.1\0`)]);
  let dir = '';

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostwall-ko-'));
    const files: Record<string, string> = {
      'drivers/virtio/virtio.ko': 'virtio_ring',
      'drivers/virtio/virtio_ring.ko': '',
      'drivers/block/virtio_blk.ko': 'virtio,virtio_ring',
      'drivers/net/net_failover.ko': 'failover',
      'net/core/failover.ko': '',
      'drivers/net/virtio_net.ko': 'virtio_ring,virtio,net_failover',
      'drivers/loop.ko': 'missing_one',
    };
    for (const [file, deps] of Object.entries(files)) {
      await fs.mkdir(path.join(dir, path.dirname(file)), { recursive: true });
      await fs.writeFile(path.join(dir, file), ko(deps));
    }
  });

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads depends= from the module\'s modinfo', () => {
    expect(moduleDepends(ko('a,b-c'))).to.deep.equal(['a', 'b_c']);
    expect(moduleDepends(ko(''))).to.deep.equal([]);
  });

  it('orders the wanted modules after everything they need, each once', async () => {
    const order = (await moduleClosure(dir, ['virtio_blk', 'virtio-net'])).map((m) => m.name);
    expect(order).to.deep.equal(['virtio_ring', 'virtio', 'virtio_blk', 'failover', 'net_failover', 'virtio_net']);
  });

  it('fails the build when a module or a dependency is not in the package', async () => {
    const err = await moduleClosure(dir, ['loop']).then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.contain('kernel module missing_one (needed by loop)');
  });
});
