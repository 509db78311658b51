/**
 * The libvirt driver against libvirt 9.0's real test driver
 * (test:///default, in-process): guest lifecycle, power states, typed
 * errors, and errors staying with their own call under concurrency.
 * test:///default is shared by every open in this process, so each test
 * uses fresh uuids and names and destroys what it made.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { IntentFailure, LibvirtError } from '../../src/errors';
import type { SpawnArgs } from '../../src/intents';
import { type LibvirtDriver, openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { rejectionOf } from '../support/failure';

const failure = (p: Promise<unknown>): Promise<IntentFailure> => rejectionOf(IntentFailure, p);

describe('libvirt driver on test:///default', function () {
  this.timeout(30000);
  let driver: LibvirtDriver;
  let instancesPath = '';
  const made: string[] = [];

  function spec(over: Partial<SpawnArgs> = {}): SpawnArgs {
    const uuid = randomUUID();
    made.push(uuid);
    return { instance_uuid: uuid, name: `hw-test-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 128, root_gb: 1 }, ...over };
  }

  before(async () => {
    instancesPath = await fs.mkdtemp(path.join(os.tmpdir(), 'hostwall-instances-'));
    driver = await openLibvirtDriver({ uri: 'test:///default', connections: 4, instancesPath });
  });

  afterEach(async () => {
    for (const uuid of made.splice(0)) await driver.destroy(uuid, { keepDisks: false });
  });

  after(async () => {
    await driver.close();
    expect(driver.leakedReferences, 'domain/secret references still held at close').to.deep.equal([0, 0, 0, 0]);
    await fs.rm(instancesPath, { recursive: true, force: true });
  });

  it('spawns a running guest whose state, name and listing agree', async () => {
    const s = spec();
    const st = await driver.spawn(s, { startPaused: false });
    expect(st).to.deep.equal({ instance_uuid: s.instance_uuid, name: s.name, power_state: 'running' });
    expect(await driver.getState(s.instance_uuid)).to.deep.equal(st);
    expect(await driver.listGuests()).to.deep.include(st);
  });

  it('refuses a second spawn of the same uuid with INSTANCE_EXISTS', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    const err = await failure(driver.spawn({ ...s, name: `${s.name}-again` }, { startPaused: false }));
    expect(err.code).to.equal('INSTANCE_EXISTS');
    expect((await driver.getState(s.instance_uuid)).name).to.equal(s.name);
  });

  it('spawns paused when asked, and resume releases it', async () => {
    const s = spec();
    expect((await driver.spawn(s, { startPaused: true })).power_state).to.equal('paused');
    expect((await driver.resume(s.instance_uuid)).power_state).to.equal('running');
  });

  it('pauses and unpauses', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    expect((await driver.pause(s.instance_uuid)).power_state).to.equal('paused');
    expect((await driver.getState(s.instance_uuid)).power_state).to.equal('paused');
    expect((await driver.unpause(s.instance_uuid)).power_state).to.equal('running');
  });

  it('suspends to a managed save (suspended, also in listings) and resumes from it', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    expect((await driver.suspend(s.instance_uuid)).power_state).to.equal('suspended');
    const listed = (await driver.listGuests()).find((g) => g.instance_uuid === s.instance_uuid);
    expect(listed?.power_state).to.equal('suspended');
    expect((await driver.resume(s.instance_uuid)).power_state).to.equal('running');
    // Resumed from the save: nothing left to resume.
    await driver.powerOff(s.instance_uuid, { clean: false, timeoutS: 0 });
    expect((await failure(driver.resume(s.instance_uuid))).code).to.equal('INVALID_STATE');
  });

  it('powers off cleanly (not forced), powers on, and powers off forced', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    expect(await driver.powerOff(s.instance_uuid, { clean: true, timeoutS: 5 })).to.deep.include({ power_state: 'shutdown', forced: false });
    expect(await driver.powerOff(s.instance_uuid, { clean: true, timeoutS: 5 })).to.deep.include({ power_state: 'shutdown', forced: false });
    expect((await driver.powerOn(s.instance_uuid)).power_state).to.equal('running');
    expect((await driver.powerOn(s.instance_uuid)).power_state).to.equal('running');
    expect(await driver.powerOff(s.instance_uuid, { clean: false, timeoutS: 5 })).to.deep.include({ power_state: 'shutdown', forced: true });
  });

  it('reboots soft and hard; a hard reboot of a suspended guest boots afresh', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    expect((await driver.reboot(s.instance_uuid, 'soft')).power_state).to.equal('running');
    expect((await driver.reboot(s.instance_uuid, 'hard')).power_state).to.equal('running');
    await driver.suspend(s.instance_uuid);
    expect((await driver.reboot(s.instance_uuid, 'hard')).power_state).to.equal('running');
    await driver.powerOff(s.instance_uuid, { clean: false, timeoutS: 0 });
    expect((await driver.getState(s.instance_uuid)).power_state).to.equal('shutdown');
  });

  it('destroys idempotently: existed, then not found, then existed:false', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    await driver.suspend(s.instance_uuid);
    expect(await driver.destroy(s.instance_uuid, { keepDisks: false })).to.deep.equal({ existed: true });
    expect((await failure(driver.getState(s.instance_uuid))).code).to.equal('INSTANCE_NOT_FOUND');
    expect(await driver.destroy(s.instance_uuid, { keepDisks: false })).to.deep.equal({ existed: false });
    expect((await driver.listGuests()).map((g) => g.instance_uuid)).to.not.include(s.instance_uuid);
  });

  it('types libvirt errors with libvirt code and message', async () => {
    const missing = await failure(driver.getState(randomUUID()));
    expect(missing).to.be.instanceOf(LibvirtError);
    expect(missing.code).to.equal('INSTANCE_NOT_FOUND');
    expect((missing as LibvirtError).libvirtCode).to.equal(42);
    expect(missing.message).to.match(/domain not found/i);
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    await driver.powerOff(s.instance_uuid, { clean: false, timeoutS: 0 });
    const notRunning = await failure(driver.suspend(s.instance_uuid));
    expect(notRunning).to.be.instanceOf(LibvirtError);
    expect(notRunning.code).to.equal('INVALID_STATE');
    expect((notRunning as LibvirtError).libvirtCode).to.equal(55);
    // Checked before libvirt, whose answer here varies by hypervisor.
    expect((await failure(driver.pause(s.instance_uuid))).code).to.equal('INVALID_STATE');
    expect((await failure(driver.unpause(s.instance_uuid))).code).to.equal('INVALID_STATE');
  });

  it('keeps each error with its own call when many fail at once over several connections', async () => {
    // Three kinds of failure, each with its own libvirt code; the name clash
    // names its own domain in the message, so a swapped error shows.
    const off = await Promise.all([0, 1, 2, 3].map(async () => {
      const s = spec();
      await driver.spawn(s, { startPaused: false });
      await driver.powerOff(s.instance_uuid, { clean: false, timeoutS: 0 });
      return s;
    }));
    const clashes = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(async () => {
      const s = spec({ flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } });
      await driver.spawn(s, { startPaused: false });
      return s;
    }));
    const calls: { expectCode: number; expectText?: string; p: Promise<unknown> }[] = [];
    for (let i = 0; i < 64; i++) {
      const kind = i % 3;
      if (kind === 0) calls.push({ expectCode: 42, p: driver.getState(randomUUID()) });
      if (kind === 1) calls.push({ expectCode: 55, p: driver.suspend((off[i % off.length] as SpawnArgs).instance_uuid) });
      if (kind === 2) {
        const clash = clashes[i % clashes.length] as SpawnArgs;
        calls.push({ expectCode: 9, expectText: `'${clash.name}'`, p: driver.spawn(spec({ name: clash.name, flavor: clash.flavor }), { startPaused: false }) });
      }
    }
    const results = await Promise.allSettled(calls.map((c) => c.p));
    results.forEach((r, i) => {
      const call = calls[i];
      expect(r.status, `call ${i}`).to.equal('rejected');
      if (r.status !== 'rejected' || !call) return;
      expect(r.reason, `call ${i}`).to.be.instanceOf(LibvirtError);
      expect((r.reason as LibvirtError).libvirtCode, `call ${i}: ${(r.reason as Error).message}`).to.equal(call.expectCode);
      if (call.expectText) expect((r.reason as Error).message).to.include(call.expectText);
    });
  });

  it('reports inventory from the node, the hypervisor and the instances filesystem', async () => {
    const s = spec();
    await driver.spawn(s, { startPaused: false });
    const inv = await driver.inventory();
    // The test driver's built-in node: 16 CPUs, 3 GiB.
    expect(inv).to.deep.include({ vcpus: 16, memory_mb: 3072, hypervisor_type: 'TEST', hypervisor_version: 2 });
    expect(inv.disk_gb).to.be.a('number').and.to.be.greaterThan(0);
    const running = (await driver.listGuests()).filter((g) => g.power_state === 'running' || g.power_state === 'paused');
    expect(inv.instances).to.be.at.least(1).and.at.most(running.length + 64);
  });

  it('turns a non-libvirt failure (here the filesystem) into an INTERNAL IntentFailure', async () => {
    // A real-hypervisor domain type makes spawn create the root disk, under a path that cannot exist
    // (/dev/null is not a directory; Node's recursive mkdir spins forever under /proc).
    const other = await openLibvirtDriver({ uri: 'test:///default', connections: 1, domainType: 'qemu', instancesPath: '/dev/null/hostwall-cannot-exist' });
    try {
      const s = spec();
      const err = await failure(other.spawn(s, { startPaused: false }));
      expect(err.code).to.equal('INTERNAL');
      expect(err.message).to.match(/hostwall-cannot-exist/);
      expect(await other.destroy(s.instance_uuid, { keepDisks: true })).to.deep.equal({ existed: false });
    } finally {
      await other.close();
    }
  });

  it('fails to open an unreachable URI with libvirt’s own error', async () => {
    const err = await failure(openLibvirtDriver({ uri: 'qemu+unix:///system?socket=/nonexistent/hostwall.sock', connections: 2 }));
    expect(err).to.be.instanceOf(LibvirtError);
    expect(err.code).to.equal('LIBVIRT_ERROR');
    expect(err.message).to.include('/nonexistent/hostwall.sock');
  });

  it('lets the process exit by itself after close, with nothing printed to stderr', async () => {
    const driverJs = path.join(__dirname, '../../src/drivers/libvirt/driver.js');
    const script = `
      const { openLibvirtDriver } = require(${JSON.stringify(driverJs)});
      (async () => {
        const d = await openLibvirtDriver({ connections: 3 });
        await Promise.allSettled([...Array(12)].map(() => d.getState('00000000-0000-4000-8000-000000000000')));
        await d.listGuests();
        await d.close();
        console.log('closed');
      })();`;
    const started = Date.now();
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 15000 }, (err, out, errOut) => (err ? reject(err) : resolve({ stdout: out, stderr: errOut })));
    });
    expect(stdout.trim()).to.equal('closed');
    expect(stderr).to.equal('');
    expect(Date.now() - started).to.be.below(15000);
  });
});
