/**
 * Which kernel modules the tiny guest loads, in an order insmod accepts.
 * Debian's package has no modules.dep (depmod writes it at install, and the
 * kernel is only unpacked here), so each module's dependencies are read from
 * its own `.modinfo` section (`depends=a,b`, what modinfo(8) prints).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface KernelModule {
  name: string;
  file: string;
}

/** Module names treat '-' and '_' alike (as modprobe does). */
const canonical = (name: string) => name.replace(/-/g, '_');

async function moduleFiles(dir: string, into = new Map<string, string>()): Promise<Map<string, string>> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await moduleFiles(p, into);
    else if (entry.name.endsWith('.ko')) into.set(canonical(entry.name.slice(0, -3)), p);
  }
  return into;
}

/** The `depends=` of a module file: the names it needs loaded first. */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const value = ko.subarray(start, ko.indexOf(0, start)).toString('ascii');
  return value === '' ? [] : value.split(',').map(canonical);
}

/**
 * `wanted` and everything they depend on, each after its dependencies, from
 * the modules under `kernelDir` (`lib/modules/<version>/kernel`). A module
 * that is not there (built in, or renamed by a newer kernel) fails the build:
 * a guest without virtio would boot and then see no disk, a harder failure
 * to read.
 */
export async function moduleClosure(kernelDir: string, wanted: readonly string[]): Promise<KernelModule[]> {
  const files = await moduleFiles(kernelDir);
  const order: KernelModule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (name: string, from: string): Promise<void> => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`kernel modules: dependency cycle through ${name}`);
    const file = files.get(name);
    if (!file) throw new Error(`kernel module ${name} (needed by ${from}) is not in ${kernelDir}`);
    state.set(name, 'visiting');
    for (const dep of moduleDepends(await fs.readFile(file))) await visit(dep, name);
    state.set(name, 'done');
    order.push({ name, file });
  };
  for (const name of wanted) await visit(canonical(name), 'the tiny guest');
  return order;
}
