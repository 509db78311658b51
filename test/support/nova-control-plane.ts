/**
 * A real Nova control plane for the compatibility tests and the benchmark:
 * scripts/nova-control-plane.sh `up` once per process (a few seconds when it
 * runs already, about a minute from nothing), its `env` read and checked,
 * and typed clients of the Nova and Placement APIs over it.
 *
 * Every suite of a mocha run calls controlPlane() and gets the same plane.
 * When this process had to start it, it stops it when the process exits
 * (synchronously, in an 'exit' handler, since mocha --exit does not wait for
 * anything else), unless NOVA_CP_KEEP=1; a plane that was already up is left
 * up. The databases stay either way (`down --purge` drops them).
 */
import { spawnSync } from 'node:child_process';
import { ControlPlaneError } from './nova-cp/errors';
import { NovaApi } from './nova-cp/nova-api';
import { PlacementApi } from './nova-cp/placement-api';
import { ControlPlaneEnv } from './nova-cp/schemas';
import { CONTROL_PLANE_SCRIPT, runScript } from './nova-cp/script';

export {
  awaitRegistration,
  type ComputeHost,
  type ComputeHostHandle,
  debianNovaCompute,
  forgetComputeHost,
  type RegisteredHost,
  writeComputeConf,
} from './nova-cp/compute-host';
export { ControlPlaneError } from './nova-cp/errors';
export { NovaApi, type ServerAction } from './nova-cp/nova-api';
export { PlacementApi } from './nova-cp/placement-api';
export type { Server, Service } from './nova-cp/schemas';

/** `up` from nothing may install packages and sync five schemas. */
const UP_TIMEOUT_MS = 15 * 60_000;
const DISCOVER_TIMEOUT_MS = 120_000;

export interface ControlPlane {
  readonly env: ControlPlaneEnv;
  readonly nova: NovaApi;
  readonly placement: PlacementApi;
  /** True when this process started it (and so stops it at exit). */
  readonly startedHere: boolean;
  /** `nova-manage cell_v2 discover_hosts`: maps newly registered compute hosts into cell1. */
  discover(): Promise<void>;
}

let shared: Promise<ControlPlane> | undefined;

/**
 * The control plane, started on first call. A failure is remembered: the
 * next suite gets the same error (PACKAGES_UNAVAILABLE included) instead of
 * waiting for another start.
 */
export function controlPlane(): Promise<ControlPlane> {
  shared ??= bringUp();
  return shared;
}

async function bringUp(): Promise<ControlPlane> {
  const up = await runScript(['up'], UP_TIMEOUT_MS);
  const startedHere = up.stdout.trim().split('\n').pop() === 'started';
  if (startedHere && process.env.NOVA_CP_KEEP !== '1') {
    process.once('exit', () => {
      spawnSync('bash', [CONTROL_PLANE_SCRIPT, 'down'], { stdio: 'ignore', timeout: 30_000 });
    });
  }
  const env = parseEnv((await runScript(['env'], 10_000)).stdout);
  return {
    env,
    nova: new NovaApi(env.NOVA_API_URL),
    placement: new PlacementApi(env.PLACEMENT_URL),
    startedHere,
    discover: async () => {
      await runScript(['discover'], DISCOVER_TIMEOUT_MS);
    },
  };
}

/**
 * The control plane for a suite's `before` hook (give it the hook's `this`):
 * a cold start's time allowed, and the suite skipped, saying why, only when
 * Debian's packages cannot be installed.
 */
export async function controlPlaneOrSkip(ctx: Mocha.Context): Promise<ControlPlane> {
  // A cold start installs packages and syncs schemas; a warm one takes seconds.
  ctx.timeout(UP_TIMEOUT_MS + 60_000);
  try {
    return await controlPlane();
  } catch (err) {
    if (err instanceof ControlPlaneError && err.code === 'PACKAGES_UNAVAILABLE') {
      console.log(`    skipped: ${err.message}`);
      ctx.skip();
    }
    throw err;
  }
}

export function parseEnv(text: string): ControlPlaneEnv {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(?:export )?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) vars[m[1]] = m[2];
  }
  const parsed = ControlPlaneEnv.safeParse(vars);
  if (!parsed.success) throw new ControlPlaneError('BAD_REPLY', `nova-control-plane.sh env: ${parsed.error.message}`);
  return parsed.data;
}
