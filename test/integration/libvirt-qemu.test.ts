/**
 * The same driver on a real hypervisor (qemu:///system), where hot-plug and
 * secrets exist. Skipped when no libvirtd answers there (docs/libvirt.md#packages: start
 * `virtlogd -d` and `libvirtd -d` by hand on these machines), or when QEMU is
 * not installed. Guests have no OS, so they ignore ACPI: a clean power off
 * times out and is forced, and a hot-unplug is requested but not completed
 * (live:false). What a guest that answers does is in qemu-guest.test.ts.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { GuestChange } from '../../src/drivers/driver';
import { IntentFailure } from '../../src/errors';
import { type LibvirtDriver, openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { childAttr, childText, findElements } from '../../src/drivers/libvirt/xml';
import { GUEST_VIRT_TYPE } from '../support/tiny-guest/qemu';

const serials = (xml: string) => findElements(xml, 'disk').map((d) => childText(d.text, 'serial'));
const macs = (xml: string) => findElements(xml, 'interface').map((i) => childAttr(i.text, 'mac', 'address'));

function virsh(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('virsh', ['-c', 'qemu:///system', ...args], (err, out) => (err ? reject(err) : resolve(out)));
  });
}

describe('libvirt driver on qemu:///system (when available)', function () {
  this.timeout(60000);
  let driver: LibvirtDriver | undefined;
  let dir = '';
  const made: string[] = [];

  before(async function () {
    // libvirtd answers qemu:///system even without QEMU installed; guests then cannot start.
    if (!(await fs.stat('/usr/bin/qemu-system-x86_64').catch(() => undefined))) this.skip();
    try {
      driver = await openLibvirtDriver({ uri: 'qemu:///system', virtType: GUEST_VIRT_TYPE, connections: 2, instancesPath: '/unused' });
    } catch {
      this.skip();
    }
    // QEMU runs as another user: the files it opens must be reachable.
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostwall-qemu-'));
    await fs.chmod(dir, 0o755);
    await driver.close();
    // Volumes are made beside the instances: allow that directory as a disk root.
    // No guest here ever releases an unplugged device: waiting Nova's 20 s for it would only slow the tier.
    driver = await openLibvirtDriver({ uri: 'qemu:///system', virtType: GUEST_VIRT_TYPE, connections: 2, instancesPath: path.join(dir, 'instances'), hostPathAllow: [dir], deviceDetachTimeoutMs: 500 });
  });

  afterEach(async () => {
    for (const uuid of made.splice(0)) await driver?.destroy(uuid, { keepDisks: false });
  });

  after(async () => {
    await driver?.close();
    if (driver) expect(driver.leakedReferences).to.deep.equal([0, 0]);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function guest(d: LibvirtDriver, paused: boolean): Promise<string> {
    const uuid = randomUUID();
    made.push(uuid);
    await d.spawn({ instance_uuid: uuid, name: `hw-q-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 96, root_gb: 1 } }, { startPaused: paused });
    return uuid;
  }

  it('starts paused, hot-plugs a volume and a port live, and suspends/resumes', async () => {
    const d = driver as LibvirtDriver;
    const uuid = await guest(d, true);
    expect((await d.getState(uuid)).power_state).to.equal('paused');
    expect((await d.resume(uuid)).power_state).to.equal('running');
    const volPath = path.join(dir, 'vol-1.raw');
    await fs.writeFile(volPath, Buffer.alloc(0));
    await fs.truncate(volPath, 16 * 1024 * 1024);
    expect(await d.attachVolume(uuid, { volume_id: 'vol-1', connection_info: { driver_volume_type: 'file', data: { device_path: volPath } } })).to.deep.equal({ live: true, device: 'vdb' });
    expect(serials(await d.domainXml(uuid, 'live'))).to.include('vol-1');
    expect(serials(await d.domainXml(uuid, 'persistent'))).to.include('vol-1');
    const port = { port_id: randomUUID(), mac_address: 'fa:16:3e:0a:0b:0c', vif_type: 'ethernet' as const, network: { bridge: 'unused', mtu: 1400 } };
    expect((await d.plugPort(uuid, port)).live).to.equal(true);
    expect(macs(await d.domainXml(uuid, 'live'))).to.include('fa:16:3e:0a:0b:0c');
    expect((await d.guestFacts(uuid))?.ports.map((p) => p.port_id)).to.deep.equal([port.port_id]);
    expect((await d.suspend(uuid)).power_state).to.equal('suspended');
    expect((await d.resume(uuid)).power_state).to.equal('running');
    expect(serials(await d.domainXml(uuid, 'live'))).to.include('vol-1');
  });

  it('reports a hot-unplug the guest ignores as live:false, with the definition updated', async () => {
    const d = driver as LibvirtDriver;
    const uuid = await guest(d, false);
    const volPath = path.join(dir, 'vol-2.raw');
    await fs.writeFile(volPath, Buffer.alloc(1024 * 1024));
    await d.attachVolume(uuid, { volume_id: 'vol-2', connection_info: { driver_volume_type: 'file', data: { device_path: volPath } } });
    expect(await d.detachVolume(uuid, 'vol-2')).to.deep.equal({ live: false, device: 'vdb' });
    expect(serials(await d.domainXml(uuid, 'persistent'))).to.not.include('vol-2');
  });

  it('forces a power off when the guest does not answer ACPI within the timeout', async () => {
    const d = driver as LibvirtDriver;
    const uuid = await guest(d, false);
    const started = Date.now();
    expect(await d.powerOff(uuid, { clean: true, timeoutS: 1 })).to.deep.include({ power_state: 'shutdown', forced: true });
    expect(Date.now() - started).to.be.at.least(1000);
  });

  it('removes the CHAP secret it created when the attach fails', async () => {
    const d = driver as LibvirtDriver;
    const uuid = await guest(d, false);
    const err = await d
      .attachVolume(uuid, {
        volume_id: 'vol-chap',
        connection_info: {
          driver_volume_type: 'iscsi',
          data: { target_iqn: 'iqn.2010-10.org.example:hostwall-absent', target_lun: 0, target_portal: '127.0.0.1:9', auth_method: 'CHAP', auth_username: 'u', auth_password: 'hunter2' },
        },
      })
      .then(() => undefined, (e: unknown) => e);
    // Refused by QEMU (no target there), i.e. after the secret was defined.
    expect(err).to.be.instanceOf(IntentFailure);
    expect((err as IntentFailure).code).to.equal('LIBVIRT_ERROR');
    expect((err as Error).message).to.not.include('hunter2');
    expect(await virsh('secret-list')).to.not.include('hostwall-absent');
    expect(serials(await d.domainXml(uuid, 'persistent'))).to.not.include('vol-chap');
  });

  it('logs the serial console to <instance dir>/console.log, extends a file volume live, and reports a virsh pause', async () => {
    const d = driver as LibvirtDriver;
    const uuid = await guest(d, false);
    // virtlogd writes the log; a guest with no OS writes nothing to it, so add a line as the guest would.
    const log = path.join(dir, 'instances', uuid, 'console.log');
    await fs.appendFile(log, 'SeaBIOS\nbooting\n');
    expect(await d.consoleOutput(uuid, 1)).to.equal('');
    expect(await d.consoleOutput(uuid)).to.match(/SeaBIOS\nbooting\n$/);
    const volPath = path.join(dir, 'vol-grow.raw');
    await fs.writeFile(volPath, Buffer.alloc(0));
    await fs.truncate(volPath, 16 * 1024 * 1024);
    await d.attachVolume(uuid, { volume_id: 'vol-grow', connection_info: { driver_volume_type: 'file', data: { device_path: volPath } } });
    await fs.truncate(volPath, 32 * 1024 * 1024); // Cinder grew it
    expect(await d.extendVolume(uuid, 'vol-grow')).to.deep.equal({ live: true, device: 'vdb' });
    expect(await virsh('domblkinfo', uuid, 'vdb')).to.match(/Capacity:\s+33554432/);
    let first: (c: GuestChange) => void = () => {};
    const change = new Promise<GuestChange>((resolve) => {
      first = resolve;
    });
    const w = d.watch((c) => first(c));
    await w.ready;
    try {
      await virsh('suspend', uuid);
      expect(await change).to.deep.equal({ instance_uuid: uuid, name: `hw-q-${uuid.slice(0, 8)}`, power_state: 'paused', exists: true, reason: 'suspended:paused' });
    } finally {
      await w.stop();
    }
  });
});
