/**
 * The tiny guest: a raw disk image that boots Debian's own kernel into a
 * busybox init (init.sh beside this file) under QEMU. Made at test time from
 * Debian's packages only, and cached by their versions.
 *
 * Why a bootable disk rather than QEMU's direct kernel boot: instance.spawn,
 * like Nova, boots a root disk (`image.path`, or the image cache for Nova's
 * image id); the intent has no kernel, initrd or command line, and adding
 * them only for tests would test a path no cloud takes. So the image carries
 * its own bootloader: a FAT filesystem made with mtools (no mount, no loop
 * device) holding SYSLINUX, the kernel, the initramfs and syslinux.cfg.
 * SeaBIOS boots it as an unpartitioned disk.
 *
 * What is in it:
 * - the kernel of Debian's `linux-image-cloud-amd64` (its ABI package fetched
 *   with `apt-get download` and unpacked with `dpkg-deb -x`, never
 *   installed). The cloud flavour rather than `linux-image-amd64`: it is
 *   Debian's kernel for virtual machines, its image is LZ4-compressed where
 *   the generic one is XZ, which a TCG guest takes 3-8 s to decompress on a
 *   busy 2-core machine (the cloud one boots in half the time), and it is a
 *   27 MB download instead of 71 MB. Both build virtio and the power button
 *   as modules; KERNEL_PACKAGE switches;
 * - an initramfs (newc.ts): `busybox-static`'s busybox (fetched the same
 *   way), init.sh as /init, power-button.sh as busybox acpid's action for
 *   the power button, and the modules virtio disks and NICs and the power
 *   button need (Debian builds them as modules) with their dependencies,
 *   listed in load order in /etc/modules (kernel-modules.ts).
 *
 * Cache: `<cacheDir>/<key>.raw` (default /var/tmp/hostwall-guest-cache,
 * HOSTWALL_GUEST_CACHE overrides), key = sha256 of the two .deb files apt
 * would fetch (name, version, checksum), the installed syslinux and mtools,
 * and this recipe (the scripts, the modules, the command line). A build is
 * written to a temporary file and renamed, so a concurrent run never reads
 * half an image. Never pruned: each entry is ~10 MB.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { moduleClosure } from './kernel-modules';
import { type NewcEntry, newcArchive } from './newc';

/** Where the scripts live in the source tree (this file runs from dist/test/support/tiny-guest/). */
const SOURCES = path.join(__dirname, '..', '..', '..', '..', 'test', 'support', 'tiny-guest');

export const DEFAULT_CACHE_DIR = '/var/tmp/hostwall-guest-cache';

/** Debian's metapackage of the kernel flavour (see above). */
const KERNEL_PACKAGE = 'linux-image-cloud-amd64';

/** virtio over PCI for disks and NICs; the ACPI power button and the input device busybox acpid reads it from. */
const MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'button', 'evdev'];

/** quiet: the kernel's own lines would bury the guest's and slow a TCG boot on the serial port. */
const CMDLINE = 'console=ttyS0 quiet';

/** Bump when the build changes in a way the inputs above do not show. */
const RECIPE = 1;

export interface TinyGuestImage {
  /** The cached image: copy it for each guest, never boot it in place. */
  path: string;
  key: string;
  /** The .deb files it was made from. */
  packages: string[];
  /** true when this call built it, false when it came from the cache. */
  built: boolean;
}

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tiny guest: ${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

interface Deb {
  /** The file name apt gives it: package_version_arch.deb (the version's ':' as %3a) */
  file: string;
  sha256: string;
}

/** `package=version`, as apt-get download takes it: exactly the file that was keyed, even if the lists moved on since. */
function debSpec(deb: Deb): string {
  const [name = '', version = ''] = deb.file.split('_');
  return `${name}=${decodeURIComponent(version)}`;
}

/** What `apt-get download` would fetch for the kernel and busybox, without fetching. */
async function resolveDebs(): Promise<{ kernel: Deb; busybox: Deb }> {
  const depends = await run('apt-cache', ['depends', KERNEL_PACKAGE], { timeoutMs: 60_000 });
  const kernelPkg = /Depends:\s+(linux-image-\S+)/.exec(depends)?.[1];
  if (!kernelPkg) throw new Error(`tiny guest: ${KERNEL_PACKAGE} names no kernel package:\n${depends}`);
  const uris = await run('apt-get', ['download', '--print-uris', kernelPkg, 'busybox-static'], { timeoutMs: 60_000 });
  const debs = [...uris.matchAll(/^'[^']+' (\S+\.deb) \d+ SHA256:([0-9a-f]{64})$/gm)].map((m) => ({ file: m[1] ?? '', sha256: m[2] ?? '' }));
  const kernel = debs.find((d) => d.file.startsWith(`${kernelPkg}_`));
  const busybox = debs.find((d) => d.file.startsWith('busybox-static_'));
  if (!kernel || !busybox) throw new Error(`tiny guest: apt-get --print-uris did not name both packages:\n${uris}`);
  return { kernel, busybox };
}

/** As resolveDebs; on a machine whose package lists were never fetched, fetch them once (root only) and ask again. */
async function resolveDebsUpdating(): Promise<{ kernel: Deb; busybox: Deb }> {
  try {
    return await resolveDebs();
  } catch (err) {
    if (process.getuid?.() !== 0) throw err;
    await run('apt-get', ['update', '-qq'], { timeoutMs: 300_000 });
    return resolveDebs();
  }
}

async function installedVersion(pkg: string): Promise<string> {
  // dpkg-query's own format syntax, not a template.
  const format = '-f=$' + '{Version}';
  const v = await run('dpkg-query', ['-W', format, pkg], { timeoutMs: 30_000 }).catch(() => '');
  if (!v) throw new Error(`tiny guest: Debian package ${pkg} is not installed (scripts/setup.sh --test installs it)`);
  return v;
}

async function readSource(name: string): Promise<Buffer> {
  return fs.readFile(path.join(SOURCES, name));
}

/** The initramfs: busybox, /init, acpid's power button action, the modules and their load order. */
async function initramfs(busybox: Buffer, kernelDir: string): Promise<{ archive: Buffer; modules: string[] }> {
  const modules = await moduleClosure(kernelDir, MODULES);
  const entries: NewcEntry[] = [
    ...['bin', 'dev', 'etc', 'etc/acpi', 'etc/acpi/PWRF', 'lib', 'lib/modules', 'proc', 'sys'].map((p) => ({ path: p, kind: 'dir' as const })),
    // The kernel opens /dev/console for init before init mounts devtmpfs over /dev.
    { path: 'dev/console', kind: 'chardev', major: 5, minor: 1 },
    { path: 'bin/busybox', kind: 'file', data: busybox, executable: true },
    { path: 'init', kind: 'file', data: await readSource('init.sh'), executable: true },
    { path: 'etc/acpi/PWRF/00000080', kind: 'file', data: await readSource('power-button.sh'), executable: true },
    { path: 'etc/modules', kind: 'file', data: Buffer.from(modules.map((m) => `${m.name}\n`).join('')) },
  ];
  for (const m of modules) entries.push({ path: `lib/modules/${m.name}.ko`, kind: 'file', data: await fs.readFile(m.file) });
  return { archive: gzipSync(newcArchive(entries), { level: 9 }), modules: modules.map((m) => m.name) };
}

async function only(dir: string, pattern: RegExp): Promise<string> {
  const names = (await fs.readdir(dir)).filter((n) => pattern.test(n));
  if (names.length !== 1) throw new Error(`tiny guest: expected one ${pattern} in ${dir}, found ${names.join(', ') || 'none'}`);
  return path.join(dir, names[0] ?? '');
}

/** Fetch, unpack and assemble in `work`; the finished image is `<work>/disk.raw`. */
async function buildIn(work: string, debs: { kernel: Deb; busybox: Deb }): Promise<string> {
  // The sandbox user _apt cannot write into a private build directory; root downloads it instead.
  await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', debSpec(debs.kernel), debSpec(debs.busybox)], { cwd: work, timeoutMs: 600_000 });
  const kernelDeb = await only(work, /^linux-image-.*\.deb$/);
  const busyboxDeb = await only(work, /^busybox-static_.*\.deb$/);
  await run('dpkg-deb', ['-x', kernelDeb, path.join(work, 'kernel')], { timeoutMs: 300_000 });
  await run('dpkg-deb', ['-x', busyboxDeb, path.join(work, 'busybox')], { timeoutMs: 60_000 });
  const vmlinuz = await only(path.join(work, 'kernel', 'boot'), /^vmlinuz-/);
  const release = path.basename(vmlinuz).slice('vmlinuz-'.length);
  const { archive } = await initramfs(await fs.readFile(path.join(work, 'busybox', 'bin', 'busybox')), path.join(work, 'kernel', 'lib', 'modules', release, 'kernel'));
  const initrd = path.join(work, 'initrd.gz');
  await fs.writeFile(initrd, archive);
  const cfg = path.join(work, 'syslinux.cfg');
  await fs.writeFile(cfg, ['DEFAULT tiny', 'PROMPT 0', 'TIMEOUT 0', 'LABEL tiny', '  KERNEL vmlinuz', '  INITRD initrd.gz', `  APPEND ${CMDLINE}`, ''].join('\n'));
  const disk = path.join(work, 'disk.raw');
  const content = (await fs.stat(vmlinuz)).size + archive.length;
  // The files, SYSLINUX's own and the FAT, with room to spare; whole MiB.
  await fs.writeFile(disk, Buffer.alloc(0));
  await fs.truncate(disk, Math.ceil(content / 2 ** 20 + 2) * 2 ** 20);
  const t = { timeoutMs: 60_000 };
  await run('mformat', ['-i', disk, '-v', 'TINYGUEST', '::'], t);
  await run('mcopy', ['-i', disk, vmlinuz, '::vmlinuz'], t);
  await run('mcopy', ['-i', disk, initrd, '::initrd.gz'], t);
  await run('mcopy', ['-i', disk, cfg, '::syslinux.cfg'], t);
  await run('syslinux', ['--install', disk], t);
  return disk;
}

/** The tiny guest's image, from the cache or built now (~15 s and a ~28 MB download the first time). */
export async function tinyGuestImage(cacheDir = process.env.HOSTWALL_GUEST_CACHE || DEFAULT_CACHE_DIR): Promise<TinyGuestImage> {
  const debs = await resolveDebsUpdating();
  const inputs = {
    recipe: RECIPE,
    debs,
    syslinux: await installedVersion('syslinux'),
    mtools: await installedVersion('mtools'),
    init: createHash('sha256').update(await readSource('init.sh')).digest('hex'),
    powerButton: createHash('sha256').update(await readSource('power-button.sh')).digest('hex'),
    modules: MODULES,
    cmdline: CMDLINE,
  };
  const key = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 24);
  const image = path.join(cacheDir, `${key}.raw`);
  const packages = [debs.kernel.file, debs.busybox.file];
  if (await fs.stat(image).then((s) => s.isFile(), () => false)) return { path: image, key, packages, built: false };
  await fs.mkdir(cacheDir, { recursive: true });
  const work = await fs.mkdtemp(path.join(cacheDir, '.build-'));
  try {
    const disk = await buildIn(work, debs);
    await fs.writeFile(path.join(cacheDir, `${key}.json`), `${JSON.stringify({ ...inputs, built_at: new Date().toISOString() }, null, 2)}\n`);
    await fs.rename(disk, image);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  return { path: image, key, packages, built: true };
}
