/**
 * What the tiny-guest tiers need from the host besides the image: whether
 * QEMU can run a guest at all, a directory QEMU may read, and libvirt's own
 * word on a guest (virsh, a real peer).
 */
import { execFile } from 'node:child_process';
import { constants as fsc, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const QEMU_URI = 'qemu:///system';

/**
 * The guest tiers run under TCG wherever they run (HOSTWALL_TEST_VIRT_TYPE=kvm
 * to try KVM): a /dev/kvm may be nested KVM that fails to emulate SYSLINUX's
 * mode switches (an "emulation failure" in the QEMU log, seen on these
 * machines), and the tiers' timeouts are sized for TCG.
 */
export const GUEST_VIRT_TYPE: 'kvm' | 'qemu' = process.env.HOSTWALL_TEST_VIRT_TYPE === 'kvm' ? 'kvm' : 'qemu';

/**
 * Why no guest can run here, or undefined. The tiers run under TCG
 * (GUEST_VIRT_TYPE), which Debian's QEMU always has: so only a missing QEMU
 * stops the tier. libvirtd not answering
 * is a failure, not a reason to skip (scripts/setup.sh --test starts it).
 */
export async function whyNoQemu(): Promise<string | undefined> {
  const qemu = await fs.access('/usr/bin/qemu-system-x86_64', fsc.X_OK).then(() => true, () => false);
  if (qemu) return undefined;
  const kvm = await fs.access('/dev/kvm', fsc.R_OK | fsc.W_OK).then(() => true, () => false);
  return `no /usr/bin/qemu-system-x86_64 (so neither TCG nor KVM${kvm ? ', although /dev/kvm exists' : ''}): install qemu-system-x86 (scripts/setup.sh --test)`;
}

/** A fresh directory QEMU (another user) can traverse; remove it with fs.rm when done. */
export async function qemuReadableDir(prefix: string, under = os.tmpdir()): Promise<string> {
  await fs.mkdir(under, { recursive: true });
  const dir = await fs.mkdtemp(path.join(under, prefix));
  await fs.chmod(dir, 0o755);
  return dir;
}

export function virsh(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('virsh', ['-c', QEMU_URI, ...args], { timeout: 30_000 }, (err, out, stderr) => (err ? reject(new Error(`virsh ${args.join(' ')}: ${stderr || err.message}`)) : resolve(out)));
  });
}

/** libvirt's state and reason, e.g. "shut off (shutdown)" or "shut off (destroyed)". */
export async function stateWithReason(uuid: string): Promise<string> {
  return (await virsh('domstate', '--reason', uuid)).trim();
}
