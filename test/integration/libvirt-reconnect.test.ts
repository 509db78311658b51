/**
 * The libvirt driver across a daemon that goes away and comes back (a
 * private libvirtd, so the host's shared one is never touched):
 * - while the daemon is gone the driver says it is not ready and its calls
 *   fail at once with HYPERVISOR_UNAVAILABLE (retryable), not "client socket
 *   is closed" and not a hang;
 * - once the daemon is back, the driver reconnects by itself (no new driver,
 *   no worker restart): ready again, every call works, and the watch hears
 *   libvirt's events again.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { GuestChange } from '../../src/drivers/driver';
import { type LibvirtDriver, openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { type PrivateLibvirtd, startPrivateLibvirtd } from '../support/private-libvirtd';

const FLAVOR = { vcpus: 1, memory_mb: 64, root_gb: 0 };

function virsh(uri: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('virsh', ['-c', uri, ...args], { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string; message?: string }) => e.code ?? e.message);

describe('libvirt driver across a daemon restart (private libvirtd, when root)', function () {
  this.timeout(60_000);
  let daemon: PrivateLibvirtd | undefined;
  let driver: LibvirtDriver | undefined;
  const readiness: boolean[] = [];
  let readyWaiters: { want: boolean; resolve: () => void }[] = [];
  const changes: GuestChange[] = [];
  let changeWaiters: { match: (c: GuestChange) => boolean; resolve: () => void }[] = [];

  const becomes = (want: boolean) =>
    driver?.ready() === want ? Promise.resolve() : new Promise<void>((resolve) => readyWaiters.push({ want, resolve }));
  const heard = (match: (c: GuestChange) => boolean) =>
    changes.some(match) ? Promise.resolve() : new Promise<void>((resolve) => changeWaiters.push({ match, resolve }));

  before(async function () {
    daemon = await startPrivateLibvirtd().catch(() => undefined);
    if (!daemon) this.skip();
  });
  after(async () => {
    await driver?.close();
    await daemon?.stop();
  });

  it('fails fast and says not ready while the daemon is gone, then reconnects, re-registers events and works again', async () => {
    const d = daemon as PrivateLibvirtd;
    driver = await openLibvirtDriver({
      uri: d.uri, connections: 2, watchReconcileMs: 0, watchStopDelayMs: 0,
      onReadyChange: (ready) => {
        readiness.push(ready);
        for (const w of readyWaiters.filter((x) => x.want === ready)) w.resolve();
        readyWaiters = readyWaiters.filter((x) => x.want !== ready);
      },
    });
    const w = driver.watch((c) => {
      changes.push(c);
      for (const x of changeWaiters.filter((y) => y.match(c))) x.resolve();
      changeWaiters = changeWaiters.filter((y) => !y.match(c));
    });
    await w.ready;
    expect(driver.ready()).to.equal(true);
    const before = randomUUID();
    await driver.spawn({ instance_uuid: before, name: `rc-${before.slice(0, 8)}`, flavor: FLAVOR }, { startPaused: false });

    await d.halt();
    await becomes(false);
    // Every call during the outage settles now, typed and retryable, whatever it is.
    for (const call of [() => driver?.inventory(), () => driver?.getState(before), () => driver?.listGuests(), () => driver?.pause(before)]) {
      const err = await (call() as Promise<unknown>).then(() => undefined, (e: { code?: string; details?: Record<string, unknown> }) => e);
      expect(err, 'the call failed').to.not.equal(undefined);
      expect(err?.code).to.equal('HYPERVISOR_UNAVAILABLE');
      expect(err?.details).to.deep.include({ retryable: true });
    }

    await d.start();
    await becomes(true);
    expect(readiness).to.deep.equal([false, true]);
    const after = randomUUID();
    const spawned = await driver.spawn({ instance_uuid: after, name: `rc-${after.slice(0, 8)}`, flavor: FLAVOR }, { startPaused: false });
    expect(spawned.power_state).to.equal('running');
    expect(await codeOf(driver.inventory())).to.equal('ok');
    // The watch's events came back: a change made behind the driver's back is heard without any listing (reconcile is off).
    await virsh(d.uri, 'suspend', after);
    await heard((c) => c.instance_uuid === after && c.power_state === 'paused' && c.reason !== 'reconnect');
    await driver.destroy(after, { keepDisks: true });
    await w.stop();
  });
});
