/**
 * Is this worker doing its job right now? What /readyz answers (and
 * `HEALTHCHECK` in the Dockerfile asks): every check must pass.
 *
 * - worker:    started and not draining (state `running`);
 * - broker:    the connection to the broker is up;
 * - consuming: every consumer of compute.<host>, compute and the fanout queue
 *              is attached (false while reconnecting and while draining);
 * - driver:    the hypervisor answers a host inventory within `driverTimeoutMs`
 *              (a hung libvirtd makes every intent hang: not ready);
 * - the companion's own status when there is one (the Nova compute host:
 *   registered, heartbeats recorded).
 *
 * The driver is asked at most once per `cacheMs` (a probe storm must not
 * become a libvirt storm); everything else is read without I/O.
 */
import type { Driver } from '../drivers/driver';
import type { TransportHealth } from '../transport/transport';
import type { WorkerCompanion } from './companion';
import { IntentFailure } from '../errors';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: ReadinessCheck[];
}

export interface ReadinessSources {
  state(): string;
  transport(): TransportHealth | undefined;
  driver: Driver;
  companion?: WorkerCompanion | undefined;
  driverTimeoutMs?: number;
  cacheMs?: number;
}

const DRIVER_TIMEOUT_MS = 5_000;
const CACHE_MS = 2_000;

export class ReadinessProbe {
  private driverCheck: { at: number; check: Promise<ReadinessCheck> } | undefined;

  constructor(private readonly src: ReadinessSources) {}

  async check(now = Date.now()): Promise<Readiness> {
    const state = this.src.state();
    const t = this.src.transport();
    const checks: ReadinessCheck[] = [
      { name: 'worker', ok: state === 'running', detail: state },
      t ? { name: 'broker', ok: t.connected, detail: t.connected ? `connected to ${t.broker ?? '?'}` : `not connected (last: ${t.broker ?? 'none'})` } : { name: 'broker', ok: true, detail: 'the transport cannot tell' },
      t ? { name: 'consuming', ok: t.consuming, detail: t.consuming ? 'every consumer attached' : 'consumers not attached' } : { name: 'consuming', ok: state === 'running', detail: 'the transport cannot tell' },
      await this.driver(now),
    ];
    const companion = this.src.companion;
    const status = companion?.status?.();
    if (companion && status) checks.push({ name: companion.name, ok: status.ready, detail: status.detail });
    return { ready: checks.every((c) => c.ok), checks };
  }

  private driver(now: number): Promise<ReadinessCheck> {
    const cached = this.driverCheck;
    if (cached && now - cached.at < (this.src.cacheMs ?? CACHE_MS)) return cached.check;
    const check = probeDriver(this.src.driver, this.src.driverTimeoutMs ?? DRIVER_TIMEOUT_MS);
    this.driverCheck = { at: now, check };
    return check;
  }
}

async function probeDriver(driver: Driver, timeoutMs: number): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IntentFailure('TIMEOUT', `no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const inv = await Promise.race([driver.inventory(), late]);
    return { name: 'driver', ok: true, detail: `${driver.name} answers (${inv.instances} guests)` };
  } catch (err) {
    return { name: 'driver', ok: false, detail: `${driver.name}: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Readiness in one line: "ready" or what is not. */
export function readinessLine(r: Readiness): string {
  if (r.ready) return 'ready';
  return `not ready: ${r.checks.filter((c) => !c.ok).map((c) => `${c.name} (${c.detail})`).join(', ')}`;
}
