/**
 * Nova API round trips against a real control plane
 * (scripts/nova-control-plane.sh), per compute host implementation:
 *
 *   boot    POST /servers → ACTIVE (task_state none)
 *   stop    os-stop → SHUTOFF
 *   start   os-start → ACTIVE
 *   delete  DELETE → 404 and the Placement allocation gone
 *
 * N cycles (default 5) per compute host, each host on a fresh host name,
 * registered and mapped (discover_hosts) before the first cycle; every boot
 * asks for that host. Figures are as fine as the polling interval
 * (`--interval-ms`, default 50 ms: each poll is a GET of the server, which
 * also makes nova-api ask Neutron for the server's ports).
 *
 * The compute host is pluggable (ComputeHost: start(host) → handle with
 * stop()); with more than one, the table adds each one's medians as a ratio
 * of the first's, all measured in the same run.
 *
 *   node dist/bench/nova-control-plane.js [--runs N] [--interval-ms M]
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import {
  awaitRegistration,
  type ComputeHost,
  type ControlPlane,
  controlPlane,
  debianNovaCompute,
  forgetComputeHost,
} from '../test/support/nova-control-plane';
import { hostwallComputeHost } from '../test/support/nova-cp/hostwall-host';

export const PHASES = ['post', 'boot', 'stop', 'start', 'delete'] as const;
export type Phase = (typeof PHASES)[number];
export type Samples = Record<Phase, number[]>;

const LABEL: Record<Phase, string> = {
  post: 'POST /servers → 202',
  boot: 'POST /servers → ACTIVE',
  stop: 'os-stop → SHUTOFF',
  start: 'os-start → ACTIVE',
  delete: 'DELETE → 404, allocation gone',
};

export interface BenchOptions {
  runs: number;
  intervalMs: number;
  /** Bound of each wait; a phase that takes longer fails the run. */
  stepTimeoutMs: number;
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
}

/** One compute host of kind `compute`, `runs` cycles. */
export async function measureHost(plane: ControlPlane, compute: ComputeHost, opts: BenchOptions): Promise<Samples> {
  const host = `hwcp-bench-${randomBytes(3).toString('hex')}`;
  const samples: Samples = { post: [], boot: [], stop: [], start: [], delete: [] };
  const poll = { timeoutMs: opts.stepTimeoutMs, intervalMs: opts.intervalMs };
  const { nova, placement } = plane;
  const handle = await compute.start(host);
  let current: string | undefined;
  try {
    await awaitRegistration(plane, host);
    for (let i = 0; i < opts.runs; i++) {
      const t0 = performance.now();
      const id = await nova.bootServer({ name: `${host}-${i}`, imageRef: plane.env.NOVA_CP_IMAGE_ID, flavorRef: plane.env.NOVA_CP_FLAVOR_ID, host });
      current = id;
      samples.post.push(performance.now() - t0);
      await nova.waitForStatus(id, 'ACTIVE', poll);
      samples.boot.push(performance.now() - t0);
      samples.stop.push((await timed(async () => nova.act(id, 'os-stop').then(() => nova.waitForStatus(id, 'SHUTOFF', poll))))[1]);
      samples.start.push((await timed(async () => nova.act(id, 'os-start').then(() => nova.waitForStatus(id, 'ACTIVE', poll))))[1]);
      const [, del] = await timed(async () => {
        await nova.deleteServer(id);
        await nova.waitGone(id, poll);
        await placement.waitAllocationsGone(id, poll);
      });
      current = undefined;
      samples.delete.push(del);
    }
  } finally {
    if (current) await nova.deleteServer(current).catch(() => undefined);
    await handle.stop();
    await forgetComputeHost(plane, host);
  }
  return samples;
}

export interface Stat {
  median: number;
  min: number;
  max: number;
}

export function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
  return { median, min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

export function formatTable(results: readonly { compute: ComputeHost; samples: Samples }[]): string {
  const first = results[0];
  const lines: string[] = [];
  for (const { compute, samples } of results) {
    lines.push(`${compute.name}: ${samples.boot.length} cycles (ms: median  min  max${first && compute !== first.compute ? `  median ratio to ${first.compute.name}` : ''})`);
    for (const p of PHASES) {
      const s = stat(samples[p]);
      const ratio = first && compute !== first.compute ? `  ${(s.median / stat(first.samples[p]).median).toFixed(2)}×` : '';
      lines.push(`  ${LABEL[p].padEnd(32)} ${s.median.toFixed(0).padStart(6)} ${s.min.toFixed(0).padStart(6)} ${s.max.toFixed(0).padStart(6)}${ratio}`);
    }
  }
  return lines.join('\n');
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: a positive number`);
  return v;
}

async function main(): Promise<void> {
  const opts: BenchOptions = { runs: flag('--runs', 5), intervalMs: flag('--interval-ms', 50), stepTimeoutMs: 60_000 };
  // The compute hosts to compare, the first being the reference.
  const hosts: ComputeHost[] = [debianNovaCompute, hostwallComputeHost()];
  const tUp = performance.now();
  const plane = await controlPlane();
  console.log(`control plane ${plane.startedHere ? 'started' : 'already up'} in ${((performance.now() - tUp) / 1000).toFixed(1)} s: ${plane.env.NOVA_API_URL}`);
  const results = [];
  for (const compute of hosts) {
    const load = loadavg()[0]?.toFixed(2);
    results.push({ compute, samples: await measureHost(plane, compute, opts) });
    console.log(`${compute.name}: done (load average ${load} → ${loadavg()[0]?.toFixed(2)} on ${availableParallelism()} cores)`);
  }
  console.log(formatTable(results));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
