/**
 * Driver.watch() against libvirt's test driver: changes made behind the
 * watched driver's back (through a second driver, i.e. other connections, or
 * virsh over a daemon) are reported within a bounded time; the driver's own
 * calls and a stop-then-start reboot are not; the reconciliation listing
 * catches what no event said; a daemon restart is survived; the process
 * exits cleanly. test:///default is shared by every open in this process, so
 * each test uses fresh uuids and destroys what it made.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { GuestChange, GuestWatch } from '../../src/drivers/driver';
import { type LibvirtDriver, type LibvirtDriverOptions, openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { type PrivateLibvirtd, startPrivateLibvirtd } from '../support/private-libvirtd';
import { Seen } from '../support/seen';

const STOP_DELAY_MS = 300;

/** A watch's changes, and a way to await the next one that matches. */
class Changes {
  private readonly log = new Seen<{ change: GuestChange; at: number }>();
  readonly errors: string[] = [];

  readonly listener = (change: GuestChange): void => {
    this.log.push({ change, at: Date.now() });
  };

  get seen(): { change: GuestChange; at: number }[] {
    return this.log.items;
  }

  readonly onError = (err: Error): void => {
    this.errors.push(err.message);
  };

  /** The first change for `uuid` in `state` (already seen or next), or a failure after `ms`. */
  next(uuid: string, state: string, ms = 3000): Promise<{ change: GuestChange; at: number }> {
    const match = (e: { change: GuestChange }) => e.change.instance_uuid === uuid && e.change.power_state === state;
    return this.log.waitFor(match, ms, () => `no ${state} change for ${uuid} within ${ms} ms; saw ${JSON.stringify(this.seen)}`);
  }

  of(uuid: string): string[] {
    return this.seen.filter((e) => e.change.instance_uuid === uuid).map((e) => `${e.change.power_state}/${e.change.reason}`);
  }
}

const virsh = (uri: string, ...args: string[]) => run('virsh', ['-c', uri, ...args]);

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

/**
 * Two drivers on one URI: `watched` carries the watch, `behind` acts behind
 * its back (its own connections, unknown to `watched`).
 */
function pair(uri: string, extra: LibvirtDriverOptions = {}) {
  let watched: LibvirtDriver;
  let behind: LibvirtDriver;
  const made: string[] = [];
  const ctx = {
    get watched() {
      return watched;
    },
    get behind() {
      return behind;
    },
    async open(): Promise<void> {
      watched = await openLibvirtDriver({ uri, connections: 2, watchStopDelayMs: STOP_DELAY_MS, ...extra });
      behind = await openLibvirtDriver({ uri, connections: 1 });
    },
    async guest(by: LibvirtDriver): Promise<string> {
      const uuid = randomUUID();
      made.push(uuid);
      await by.spawn({ instance_uuid: uuid, name: `hw-w-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } }, { startPaused: false });
      return uuid;
    },
    async watch(): Promise<{ w: GuestWatch; changes: Changes }> {
      const changes = new Changes();
      const w = watched.watch(changes.listener, { onError: changes.onError });
      await w.ready;
      return { w, changes };
    },
    async cleanup(): Promise<void> {
      for (const uuid of made.splice(0)) await behind.destroy(uuid, { keepDisks: true }).catch(() => undefined);
    },
    async close(): Promise<void> {
      await watched?.close();
      await behind?.close();
    },
  };
  return ctx;
}

describe('libvirt watch on test:///default', function () {
  this.timeout(20_000);
  const t = pair('test:///default');
  before(() => t.open());
  afterEach(() => t.cleanup());
  after(() => t.close());

  it('reports a pause, a resume and a power off done behind its back, each within 1 s of the act (a shutdown after the stop delay)', async () => {
    const uuid = await t.guest(t.watched);
    const { w, changes } = await t.watch();
    try {
      let acted = Date.now();
      await t.behind.pause(uuid);
      expect((await changes.next(uuid, 'paused')).at - acted).to.be.below(1000);
      acted = Date.now();
      await t.behind.unpause(uuid);
      expect((await changes.next(uuid, 'running')).at - acted).to.be.below(1000);
      acted = Date.now();
      await t.behind.powerOff(uuid, { clean: false, timeoutS: 0 });
      const off = await changes.next(uuid, 'shutdown');
      expect(off.at - acted).to.be.within(STOP_DELAY_MS - 50, STOP_DELAY_MS + 1000);
      expect(changes.of(uuid)).to.deep.equal(['paused/suspended:paused', 'running/resumed:unpaused', 'shutdown/stopped:destroyed']);
      expect(off.change).to.deep.include({ exists: true, name: `hw-w-${uuid.slice(0, 8)}` });
    } finally {
      await w.stop();
    }
    expect(changes.errors).to.deep.equal([]);
  });

  it('reports guests created and destroyed behind its back, a destroyed one as not existing', async () => {
    const { w, changes } = await t.watch();
    try {
      const uuid = await t.guest(t.behind);
      // The define event's look may already find it started.
      expect((await changes.next(uuid, 'running')).change.reason).to.be.oneOf(['started:booted', 'defined:added']);
      await t.behind.destroy(uuid, { keepDisks: true });
      // Inline test-driver calls can finish before the first event is handled: the look that event
      // causes already finds the guest gone, and that is what is reported, with that event's reason.
      const gone = (await changes.next(uuid, 'pending')).change;
      expect(gone).to.deep.include({ exists: false });
      expect(gone.reason).to.be.oneOf(['undefined:removed', 'stopped:destroyed', 'started:booted', 'defined:added']);
    } finally {
      await w.stop();
    }
  });

  it('reports neither its own driver’s calls nor a hard reboot behind its back (stop then start)', async () => {
    const uuid = await t.guest(t.watched);
    const { w, changes } = await t.watch();
    try {
      await t.watched.pause(uuid);
      await t.watched.unpause(uuid);
      await t.watched.suspend(uuid);
      await t.watched.resume(uuid);
      await t.watched.powerOff(uuid, { clean: false, timeoutS: 0 });
      await t.watched.powerOn(uuid);
      await t.behind.reboot(uuid, 'hard');
      // Proving an absence: past the stop delay the reboot's stop would have been reported.
      await sleep(STOP_DELAY_MS + 300);
      await t.behind.pause(uuid);
      await changes.next(uuid, 'paused');
      expect(changes.of(uuid)).to.deep.equal(['paused/suspended:paused']);
    } finally {
      await w.stop();
    }
  });

  it('calls no listener after stop() resolved', async () => {
    const uuid = await t.guest(t.watched);
    const first = await t.watch();
    const second = await t.watch();
    await first.w.stop();
    await t.behind.pause(uuid);
    await second.changes.next(uuid, 'paused');
    await second.w.stop();
    expect(first.changes.seen).to.deep.equal([]);
  });

  it('tells a failure apart: unknown volume, a test guest’s console and live resize are NOT_SUPPORTED, a stopped guest’s resize waits', async () => {
    const uuid = await t.guest(t.watched);
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);
    expect(await code(t.watched.consoleOutput(uuid))).to.equal('NOT_SUPPORTED');
    expect(await code(t.watched.extendVolume(uuid, 'vol-none', 1 << 30))).to.equal('DEVICE_NOT_FOUND');
    await t.watched.attachVolume(uuid, { volume_id: 'vol-x', connection_info: { driver_volume_type: 'file', data: { device_path: '/var/lib/hostwall/volumes/vol-x' } } });
    await t.watched.powerOff(uuid, { clean: false, timeoutS: 0 });
    expect(await t.watched.extendVolume(uuid, 'vol-x', 1 << 30)).to.deep.equal({ live: false, device: 'vda' });
    await t.watched.powerOn(uuid);
    expect(await code(t.watched.extendVolume(uuid, 'vol-x', 1 << 30))).to.equal('NOT_SUPPORTED');
    expect(await t.watched.hostUptime()).to.match(/^ ?\d\d:\d\d:\d\d up .*load average: [\d.]+, [\d.]+, [\d.]+\n$/);
  });
});

describe('libvirt watch with events off: the reconciliation listing alone', function () {
  this.timeout(20_000);
  const t = pair('test:///default', { watchEvents: false, watchReconcileMs: 250, watchStopDelayMs: 0 });
  before(() => t.open());
  afterEach(() => t.cleanup());
  after(() => t.close());

  it('catches a change no event reported within one listing interval', async () => {
    const uuid = await t.guest(t.watched);
    const { w, changes } = await t.watch();
    try {
      const acted = Date.now();
      await t.behind.pause(uuid);
      const seen = await changes.next(uuid, 'paused');
      expect(seen.change.reason).to.equal('reconcile');
      expect(seen.at - acted).to.be.below(250 + 500);
    } finally {
      await w.stop();
    }
  });
});

describe('libvirt watch over libvirtd (test+unix:///default, when a daemon answers)', function () {
  this.timeout(20_000);
  const uri = 'test+unix:///default';
  const t = pair(uri);
  before(async function () {
    try {
      await t.open();
    } catch {
      this.skip();
    }
  });
  afterEach(() => t.cleanup());
  after(() => t.close());

  it('reports a virsh suspend and destroy from another process', async () => {
    const uuid = await t.guest(t.watched);
    const { w, changes } = await t.watch();
    try {
      await virsh(uri, 'suspend', uuid);
      await changes.next(uuid, 'paused');
      await virsh(uri, 'destroy', uuid);
      await changes.next(uuid, 'shutdown');
      expect(changes.of(uuid)).to.deep.equal(['paused/suspended:paused', 'shutdown/stopped:destroyed']);
    } finally {
      await w.stop();
    }
  });
});

describe('libvirt watch across a daemon restart (private libvirtd, when root)', function () {
  this.timeout(30_000);
  let daemon: PrivateLibvirtd | undefined;
  let driver: LibvirtDriver | undefined;

  before(async function () {
    daemon = await startPrivateLibvirtd().catch(() => undefined);
    if (!daemon) this.skip();
  });
  after(async () => {
    await driver?.close();
    await daemon?.stop();
  });

  it('reconnects and reports what changed while it was away (the test driver’s guests vanish)', async () => {
    const d = daemon as PrivateLibvirtd;
    driver = await openLibvirtDriver({ uri: d.uri, connections: 1, watchStopDelayMs: STOP_DELAY_MS });
    const changes = new Changes();
    const w = driver.watch(changes.listener, { onError: changes.onError });
    await w.ready;
    const uuid = randomUUID();
    await driver.spawn({ instance_uuid: uuid, name: `hw-r-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } }, { startPaused: false });
    await d.restart();
    const gone = await changes.next(uuid, 'pending', 10_000);
    expect(gone.change).to.deep.include({ exists: false, reason: 'reconnect' });
    expect(changes.errors.some((m) => m.includes('lost'))).to.equal(true);
    await w.stop();
  });
});

describe('libvirt watch: the process exits cleanly', function () {
  this.timeout(20_000);
  const driverJs = path.join(__dirname, '../../src/drivers/libvirt/driver.js');

  function child(body: string): Promise<{ stdout: string; ms: number }> {
    const script = `
      const { openLibvirtDriver } = require(${JSON.stringify(driverJs)});
      const { randomUUID } = require('node:crypto');
      (async () => { ${body} })().catch((e) => { console.error(e); process.exit(2); });`;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 10_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else if (stderr) reject(new Error(`stderr: ${stderr}`));
        else resolve({ stdout, ms: Date.now() - started });
      });
    });
  }

  it('exits by itself once the driver is closed after a watch saw a change', async () => {
    const { stdout, ms } = await child(`
      const d = await openLibvirtDriver({ connections: 2 });
      const other = await openLibvirtDriver({ connections: 1 });
      const uuid = randomUUID();
      await d.spawn({ instance_uuid: uuid, name: 'hw-x-' + uuid.slice(0, 8), flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } }, { startPaused: false });
      const seen = new Promise((resolve) => d.watch((c) => c.power_state === 'paused' && resolve(c.reason)).ready.then(() => other.pause(uuid)));
      console.log(await seen);
      await other.destroy(uuid, { keepDisks: true });
      await other.close();
      await d.close();
      console.log('closed');`);
    expect(stdout).to.equal('suspended:paused\nclosed\n');
    expect(ms).to.be.below(8000);
  });

  it('does not hang in process.exit() while a watch runs and the driver was never closed', async () => {
    const { stdout, ms } = await child(`
      const d = await openLibvirtDriver({ connections: 2 });
      await d.watch(() => {}).ready;
      console.log('exiting');
      process.exit(0);`);
    expect(stdout).to.equal('exiting\n');
    // The parked event-loop iteration ends at its next 1 s tick.
    expect(ms).to.be.below(5000);
  });
});
