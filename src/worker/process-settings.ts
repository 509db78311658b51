/**
 * Settings that belong to the worker's process rather than to a Worker: the
 * CLI applies them once at start (and the benchmark's worker child the same
 * way, so it measures the process as shipped).
 */
import { setFlagsFromString } from 'node:v8';
import type { Config } from '../config';

/**
 * Under load V8 lets the old generation grow to up to 4x what the last full
 * collection left live: the worker's per-intent objects live ~0.1 s (as
 * long as their message is in flight), so they are promoted and the heap
 * climbs by ~40 MB of garbage before it is collected. A fixed factor keeps
 * peak RSS near twice the live heap. The flag is read at every collection,
 * so setting it after start takes effect (measured: bench/README.md).
 */
export function applyProcessSettings(config: Pick<Config, 'heapGrowthPercent'>, setV8Flag: (flag: string) => void = setFlagsFromString): string[] {
  const flags = config.heapGrowthPercent > 0 ? [`--heap-growing-percent=${config.heapGrowthPercent}`] : [];
  for (const f of flags) setV8Flag(f);
  return flags;
}
