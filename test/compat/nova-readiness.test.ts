/**
 * /readyz of hostwall as the compute host of a real Nova control plane
 * (scripts/nova-control-plane.sh): ready only once registered with Nova and
 * its heartbeats recorded — the companion's part of readiness, reported
 * through its status(). Skips, saying why, only when Debian's packages
 * cannot be installed.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { awaitRegistration, type ControlPlane, controlPlaneOrSkip, forgetComputeHost } from '../support/nova-control-plane';
import { type HostwallHostHandle, hostwallComputeHost } from '../support/nova-cp/hostwall-host';

describe('compat: /readyz of hostwall as Nova\'s compute host', function () {
  this.timeout(180_000);
  const host = `hwcp-rdy-${randomBytes(4).toString('hex')}`;
  let plane: ControlPlane | undefined;
  let compute: HostwallHostHandle | undefined;

  before(async function () {
    plane = await controlPlaneOrSkip(this);
    compute = await hostwallComputeHost('[hostwall]\nhttp_address = 127.0.0.1:0').startHost(host);
  });

  after(async function () {
    this.timeout(120_000);
    await compute?.stop();
    if (plane) await forgetComputeHost(plane, host);
  });

  it('names the Nova compute host among its checks, ready once registered and heartbeating', async () => {
    if (!plane || !compute) throw new Error('no control plane');
    await awaitRegistration(plane, host);
    const listening = compute.worker.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'http endpoint listening: /healthz /readyz /metrics');
    const base = `http://${String(listening?.address)}`;
    const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
    const body = (await r.json()) as { ready: boolean; checks: { name: string; ok: boolean; detail: string }[] };
    expect(r.status, JSON.stringify(body)).to.equal(200);
    const nova = body.checks.find((c) => c.name === 'nova compute host');
    expect(nova?.ok).to.equal(true);
    expect(nova?.detail).to.match(/^registered \(service \d+\), last heartbeat \d+ s ago$/);
  });
});
