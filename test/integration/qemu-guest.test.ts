/**
 * A real guest: Debian's kernel and a busybox init (the tiny guest,
 * test/support/tiny-guest/) booted by QEMU on qemu:///system (TCG here, KVM
 * where /dev/kvm exists), driven through a worker by intents. What only a
 * guest can do: answer the ACPI power button (a clean power off, a soft
 * reboot), release a hot-unplugged disk or NIC, see a hot-plugged one, keep
 * its memory through a managed save, power itself off.
 *
 * One guest goes through the steps in order (each boot costs seconds under
 * TCG). Skipped, saying why, only where QEMU is missing; the first run on a
 * machine builds the image (a 27 MB download from Debian's archive), later runs take
 * it from the cache. The measured times are printed at the end.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { IntentClient } from '../../src/client/intent-client';
import type { LibvirtDriver } from '../../src/drivers/libvirt/driver';
import { childText, findElements } from '../../src/drivers/libvirt/xml';
import type { Transport } from '../../src/transport/transport';
import type { Worker } from '../../src/worker/worker';
import { type EventLog, TestBus } from '../fault/harness/bus';
import { tinyGuestImage } from '../support/tiny-guest/build';
import { count, counters, guestLines, typeOnConsole, waitForConsole } from '../support/tiny-guest/console';
import { GUEST_VIRT_TYPE, QEMU_URI, qemuReadableDir, stateWithReason, whyNoQemu } from '../support/tiny-guest/qemu';
import { AMQP_URL, connectTransport, startWorker, uuid } from '../support/worker';

/** The default allow-list for file-backed volumes (README, Guarantees); each run uses a directory of its own in it. */
const VOLUME_ROOT = '/var/lib/hostwall/volumes';
/** Short, so the step where the guest cannot answer stays short; a TCG guest answers in well under a second. */
const DETACH_TIMEOUT_MS = 3_000;

type Reply = Record<string, unknown>;

describe('a Linux guest under QEMU, driven by intents', function () {
  this.timeout(180_000);
  const id = uuid();
  const name = `hw-guest-${id.slice(0, 8)}`;
  const figures: Record<string, number> = {};
  let worker: Worker | undefined;
  let host = '';
  let transport: Transport | undefined;
  let client: IntentClient;
  let bus: TestBus | undefined;
  let events: EventLog;
  let dir = '';
  let volumes = '';

  before(async function () {
    // The first run on a machine downloads and builds the image.
    this.timeout(900_000);
    const why = await whyNoQemu();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    const started = Date.now();
    const image = await tinyGuestImage();
    figures.image_s = (Date.now() - started) / 1000;
    dir = await qemuReadableDir('hostwall-guest-');
    volumes = await qemuReadableDir('guest-', VOLUME_ROOT);
    ({ worker, config: { host } } = await startWorker({ libvirtUri: QEMU_URI, libvirtVirtType: GUEST_VIRT_TYPE, instancesPath: path.join(dir, 'instances') }, { deviceDetachTimeoutMs: DETACH_TIMEOUT_MS }));
    transport = await connectTransport('test-qemu-guest');
    client = new IntentClient(transport, { controlExchange: 'nova' });
    bus = await TestBus.connect(AMQP_URL);
    events = await bus.eventLog(host);
    // Each guest boots its own copy (image.path is used as-is, and written to).
    const disk = path.join(dir, 'instances', id, 'disk.raw');
    await fs.mkdir(path.dirname(disk), { recursive: true });
    await fs.copyFile(image.path, disk);
  });

  after(async () => {
    if (worker) await (worker.dispatcher.driver as LibvirtDriver).destroy(id, { keepDisks: false }).catch(() => undefined);
    await transport?.close();
    await worker?.stop(5_000);
    await bus?.removeHost(host);
    await bus?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    if (volumes) await fs.rm(volumes, { recursive: true, force: true });
    if (Object.keys(figures).length) console.log(`      figures (${QEMU_URI}): ${JSON.stringify(figures)}`);
  });

  const driver = () => (worker as Worker).dispatcher.driver as LibvirtDriver;
  const call = async (kind: string, args: Reply) => (await client.call(host, kind, { instance_uuid: id, ...args }, { timeoutMs: 120_000 })) as Reply;
  const consoleText = () => driver().consoleOutput(id);
  const untilConsole = (done: (text: string) => boolean, what: string) => waitForConsole(consoleText, done, what);
  const hasLine = (line: string) => (text: string) => guestLines(text).includes(line);
  /** ms from `t` to now. */
  const since = (t: number) => Date.now() - t;
  const liveSerials = async () => findElements(await driver().domainXml(id, 'live'), 'disk').map((d) => childText(d.text, 'serial'));

  async function fileVolume(volumeId: string): Promise<Reply> {
    const file = path.join(volumes, `${volumeId}.raw`);
    await fs.writeFile(file, Buffer.alloc(0));
    await fs.truncate(file, 16 * 2 ** 20);
    return { volume_id: volumeId, connection_info: { driver_volume_type: 'file', data: { device_path: file } } };
  }

  it('spawns from a disk image: the console shows the banner, and instance.console_output returns it', async () => {
    const t = Date.now();
    const spawned = await call('instance.spawn', { name, flavor: { vcpus: 1, memory_mb: 128, root_gb: 0 }, image: { path: path.join(dir, 'instances', id, 'disk.raw') } });
    expect(spawned).to.deep.include({ outcome: 'succeeded' });
    expect(spawned.instance).to.deep.include({ power_state: 'running', vm_state: 'active' });
    await untilConsole((s) => count(s, 'READY') === 1, 'READY after the first boot');
    figures.boot_s = since(t) / 1000;
    const whole = String((await call('instance.console_output', {})).output);
    expect(count(whole, 'BOOT'), whole).to.equal(1);
    expect(whole).to.match(/^TINYGUEST BOOT uptime=\d+\.\d+\r?$/m);
    const tail = String((await call('instance.console_output', { tail_length: 2 })).output);
    expect(tail.split('\n')).to.have.length(2);
    // The guest prints a line every second: read the whole log again after the tail, which it must contain.
    const after = String((await call('instance.console_output', {})).output);
    expect(after.includes(tail), `${tail} in\n${after.slice(-400)}`).to.equal(true);
  });

  it('volume.attach of a file disk: the guest logs the new disk; volume.detach returns once the guest released it', async () => {
    const vol = `vol-${randomBytes(3).toString('hex')}`;
    expect(await call('volume.attach', await fileVolume(vol))).to.deep.include({ outcome: 'succeeded', live: true, device: 'vdb' });
    await untilConsole(hasLine(`block+ vdb serial=${vol}`), `the guest seeing ${vol}`);
    const t = Date.now();
    const detached = await call('volume.detach', { volume_id: vol });
    figures.detach_s = since(t) / 1000;
    expect(detached).to.deep.include({ outcome: 'succeeded', live: true, device: 'vdb' });
    // Gone from the running guest when the outcome came, not merely requested.
    expect(await liveSerials()).to.not.include(vol);
    await untilConsole(hasLine(`block- vdb serial=${vol}`), `the guest losing ${vol}`);
    figures.detach_seen_by_guest_s = since(t) / 1000;
  });

  it('volume.detach with the guest unable to answer (paused): live:false after the detach timeout, and the guest completes it once running', async () => {
    const vol = `vol-${randomBytes(3).toString('hex')}`;
    await call('volume.attach', await fileVolume(vol));
    await untilConsole(hasLine(`block+ vdb serial=${vol}`), `the guest seeing ${vol}`);
    await call('instance.pause', {});
    const t = Date.now();
    const detached = await call('volume.detach', { volume_id: vol });
    figures.detach_ignored_s = since(t) / 1000;
    expect(detached).to.deep.include({ outcome: 'succeeded', live: false, device: 'vdb' });
    expect(since(t), 'waited for the guest past libvirt\'s own wait').to.be.at.least(DETACH_TIMEOUT_MS);
    expect(await liveSerials(), 'the frozen guest still has it').to.include(vol);
    expect(findElements(await driver().domainXml(id, 'persistent'), 'disk').map((d) => childText(d.text, 'serial'))).to.not.include(vol);
    await call('instance.unpause', {});
    await untilConsole(hasLine(`block- vdb serial=${vol}`), `the guest releasing ${vol} once running`);
    expect(await liveSerials()).to.not.include(vol);
  });

  it('port.plug and port.unplug of a tap NIC: the guest logs the interface come and go', async () => {
    const mac = `fa:16:3e:${randomBytes(3).toString('hex').match(/../g)?.join(':')}`;
    const port = { port_id: uuid(), mac_address: mac, vif_type: 'tap', network: { bridge: 'unused', mtu: 1450 } };
    expect(await call('port.plug', { port })).to.deep.include({ outcome: 'succeeded', live: true });
    await untilConsole(hasLine(`net+ eth0 mac=${mac}`), 'the guest seeing the NIC');
    expect(await call('port.unplug', { port_id: port.port_id })).to.deep.include({ outcome: 'succeeded', live: true });
    await untilConsole(hasLine(`net- eth0 mac=${mac}`), 'the guest losing the NIC');
  });

  it('instance.suspend and resume (managed save): the counter goes on where it stopped, no boot in between', async () => {
    await untilConsole((s) => counters(s).length >= 2, 'the counter running');
    expect(await call('instance.suspend', {})).to.deep.include({ outcome: 'succeeded' });
    expect(await stateWithReason(id)).to.equal('shut off (saved)');
    const last = Math.max(...counters(await consoleText()));
    const t = Date.now();
    expect(await call('instance.resume', {})).to.deep.include({ outcome: 'succeeded' });
    figures.resume_s = since(t) / 1000;
    // The restored QEMU starts the log afresh (append='off'), so all of it is after the restore.
    const after = await untilConsole((s) => counters(s).length > 0, 'the counter after the restore');
    expect(count(after, 'BOOT'), after).to.equal(0);
    const next = counters(after)[0] ?? 0;
    // The line being written at the save may be cut in two, so the first whole one may be the one after it.
    expect(next, after).to.be.within(last + 1, last + 2);
  });

  it('instance.reboot soft: the guest is asked (ACPI), shuts itself down and boots again in the same QEMU', async () => {
    await untilConsole((s) => counters(s).length > 0, 'the guest running');
    const before = await consoleText();
    expect(await call('instance.reboot', { type: 'soft' })).to.deep.include({ outcome: 'succeeded' });
    const text = await untilConsole((s) => count(s, 'READY') === count(before, 'READY') + 1, 'READY after the soft reboot');
    expect(count(text, 'POWER-BUTTON')).to.equal(count(before, 'POWER-BUTTON') + 1);
    expect(count(text, 'BOOT')).to.equal(count(before, 'BOOT') + 1);
    expect(text.startsWith(before), 'the same log goes on: same QEMU process').to.equal(true);
  });

  it('instance.reboot hard: a reset the guest is not asked about', async () => {
    expect(await call('instance.reboot', { type: 'hard' })).to.deep.include({ outcome: 'succeeded' });
    // A new QEMU process: the log starts afresh (append='off') with one boot and no power button.
    const text = await untilConsole((s) => count(s, 'READY') === 1 && counters(s).length > 0, 'READY after the hard reboot');
    expect(count(text, 'BOOT'), text).to.equal(1);
    expect(count(text, 'POWER-BUTTON'), text).to.equal(0);
    expect(counters(text)[0]).to.equal(1);
  });

  it('instance.power_off not clean: destroyed without asking the guest', async () => {
    await untilConsole((s) => count(s, 'READY') === 1, 'the guest ready');
    expect(await call('instance.power_off', { clean: false })).to.deep.include({ outcome: 'succeeded', forced: true });
    expect(await stateWithReason(id)).to.equal('shut off (destroyed)');
    expect(count(await consoleText(), 'POWER-BUTTON')).to.equal(0);
  });

  it('instance.power_off clean: the guest shuts itself down (libvirt says shutdown) well before the timeout', async () => {
    const booting = Date.now();
    expect(await call('instance.power_on', {})).to.deep.include({ outcome: 'succeeded' });
    await untilConsole((s) => count(s, 'READY') === 1, 'READY after power on');
    figures.power_on_boot_s = since(booting) / 1000;
    const t = Date.now();
    const off = await call('instance.power_off', { clean: true, timeout_s: 60 });
    figures.clean_power_off_s = since(t) / 1000;
    expect(off).to.deep.include({ outcome: 'succeeded', forced: false });
    expect(off.instance).to.deep.include({ power_state: 'shutdown', vm_state: 'stopped' });
    expect(await stateWithReason(id)).to.equal('shut off (shutdown)');
    expect(count(await consoleText(), 'POWER-BUTTON')).to.equal(1);
    expect(since(t), 'well before the 60 s timeout').to.be.below(30_000);
  });

  it('a guest that reboots itself, then powers itself off: only the power off is reported, as instance.state with cause hypervisor', async () => {
    expect(await call('instance.power_on', {})).to.deep.include({ outcome: 'succeeded' });
    await untilConsole((s) => count(s, 'READY') === 1, 'READY after power on');
    const seen = events.events.length;
    // Its own reboot resets it in the same QEMU (on_reboot restart): the domain never stops.
    await typeOnConsole(await driver().domainXml(id, 'live'), 'reboot', () => untilConsole((s) => count(s, 'READY') === 2, 'READY after the guest\'s own reboot'));
    expect(guestLines(await consoleText())).to.include('SELF-REBOOT');
    const state = await typeOnConsole(await driver().domainXml(id, 'live'), 'poweroff', () =>
      events.waitFor((e) => e.event === 'instance.state' && e.instance_uuid === id && e.cause === 'hypervisor', 60_000, 'instance.state (hypervisor)'),
    );
    expect(state).to.deep.include({ power_state: 'shutdown', vm_state: 'stopped' });
    expect(guestLines(await consoleText())).to.include('SELF-POWEROFF');
    expect(await stateWithReason(id)).to.equal('shut off (shutdown)');
    // Nothing else in the whole run was the hypervisor's doing: not the reboots, the managed save, the device changes.
    const hypervisor = events.events.filter((e) => e.event === 'instance.state' && e.instance_uuid === id && e.cause === 'hypervisor');
    expect(hypervisor, JSON.stringify(hypervisor)).to.have.length(1);
    expect(events.events.indexOf(hypervisor[0] as (typeof hypervisor)[number])).to.be.at.least(seen);
  });
});
