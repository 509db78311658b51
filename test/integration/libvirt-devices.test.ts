/**
 * Volume and port intents against libvirt 9.0's test driver, which cannot
 * hot-plug (docs/libvirt.md#the-test-driver): every change lands in the persistent definition,
 * reported live:false, and reaches the running definition at next start.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { IntentFailure, LibvirtError } from '../../src/errors';
import type { ConnectionInfo, Port, SpawnArgs } from '../../src/intents';
import { type LibvirtDriver, openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { childAttr, childText, findElements } from '../../src/drivers/libvirt/xml';
import { rejectionOf } from '../support/failure';

const failure = (p: Promise<unknown>): Promise<IntentFailure> => rejectionOf(IntentFailure, p);

/** serial (volume id) → target dev of every disk in a domain XML. */
function disks(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of findElements(xml, 'disk')) out.set(childText(d.text, 'serial') ?? '(none)', childAttr(d.text, 'target', 'dev') ?? '');
  return out;
}

/** MAC → target dev of every interface in a domain XML. */
function nics(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of findElements(xml, 'interface')) out.set(childAttr(i.text, 'mac', 'address') ?? '', childAttr(i.text, 'target', 'dev') ?? '');
  return out;
}

const fileVolume = (id: string): ConnectionInfo => ({ driver_volume_type: 'file', data: { device_path: `/var/lib/hostwall/volumes/${id}` } });

describe('libvirt driver devices on test:///default', function () {
  this.timeout(30000);
  let driver: LibvirtDriver;
  const made: string[] = [];

  async function running(over: Partial<SpawnArgs> = {}): Promise<string> {
    const uuid = randomUUID();
    made.push(uuid);
    await driver.spawn({ instance_uuid: uuid, name: `hw-dev-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 128, root_gb: 1 }, ...over }, { startPaused: false });
    return uuid;
  }

  before(async () => {
    driver = await openLibvirtDriver({ uri: 'test:///default', connections: 4, instancesPath: '/nonexistent/hostwall-instances' });
  });

  afterEach(async () => {
    for (const uuid of made.splice(0)) await driver.destroy(uuid, { keepDisks: true });
  });

  after(async () => {
    await driver.close();
    expect(driver.leakedReferences).to.deep.equal([0, 0, 0, 0]);
  });

  it('attaches a volume to a running guest in its persistent definition only (live:false), effective at next start', async () => {
    const uuid = await running();
    const change = await driver.attachVolume(uuid, { volume_id: 'vol-one', connection_info: fileVolume('vol-one') });
    expect(change).to.deep.equal({ live: false, device: 'vdb' });
    expect(disks(await driver.domainXml(uuid, 'persistent')).get('vol-one')).to.equal('vdb');
    expect(disks(await driver.domainXml(uuid, 'live')).has('vol-one')).to.equal(false);
    const facts = await driver.guestFacts(uuid);
    expect(facts?.volumes).to.deep.equal([{ volume_id: 'vol-one', driver_volume_type: 'file', device: 'vdb', secret: undefined }]);
    await driver.powerOff(uuid, { clean: true, timeoutS: 5 });
    await driver.powerOn(uuid);
    expect(disks(await driver.domainXml(uuid, 'live')).get('vol-one')).to.equal('vdb');
  });

  it('answers a replayed attach with the device already there', async () => {
    const uuid = await running();
    const first = await driver.attachVolume(uuid, { volume_id: 'vol-r', connection_info: fileVolume('vol-r') });
    expect(await driver.attachVolume(uuid, { volume_id: 'vol-r', connection_info: fileVolume('vol-r') })).to.deep.equal(first);
    expect([...disks(await driver.domainXml(uuid)).keys()].filter((k) => k === 'vol-r')).to.have.length(1);
  });

  it('honours device_name and refuses one already in use', async () => {
    const uuid = await running();
    expect((await driver.attachVolume(uuid, { volume_id: 'vol-k', connection_info: fileVolume('vol-k'), device_name: '/dev/vdk' })).device).to.equal('vdk');
    const err = await failure(driver.attachVolume(uuid, { volume_id: 'vol-k2', connection_info: fileVolume('vol-k2'), device_name: 'vdk' }));
    expect(err.code).to.equal('INVALID_STATE');
    expect((await driver.attachVolume(uuid, { volume_id: 'vol-n', connection_info: fileVolume('vol-n') })).device).to.equal('vdb');
  });

  it('attaches 20 volumes awaited in sequence to distinct devices, all in the definition', async () => {
    const uuid = await running();
    const devices: string[] = [];
    for (let i = 0; i < 20; i++) {
      devices.push((await driver.attachVolume(uuid, { volume_id: `vol-seq-${i}`, connection_info: fileVolume(`seq-${i}`) })).device);
    }
    expect(new Set(devices).size).to.equal(20);
    expect(devices).to.not.include('vda');
    const defined = disks(await driver.domainXml(uuid));
    devices.forEach((dev, i) => {
      expect(defined.get(`vol-seq-${i}`), `vol-seq-${i}`).to.equal(dev);
    });
    expect((await driver.guestFacts(uuid))?.volumes.map((v) => v.device)).to.deep.equal(devices);
  });

  it('attaches 20 volumes issued at once without losing any (the driver serializes per instance)', async () => {
    const uuid = await running();
    const changes = await Promise.all(
      [...Array(20).keys()].map((i) => driver.attachVolume(uuid, { volume_id: `vol-par-${i}`, connection_info: fileVolume(`par-${i}`) })),
    );
    expect(new Set(changes.map((c) => c.device)).size).to.equal(20);
    const defined = disks(await driver.domainXml(uuid));
    changes.forEach((c, i) => {
      expect(defined.get(`vol-par-${i}`)).to.equal(c.device);
    });
  });

  it('detaches from the persistent definition; detaching again is DEVICE_NOT_FOUND', async () => {
    const uuid = await running();
    await driver.attachVolume(uuid, { volume_id: 'vol-a', connection_info: fileVolume('a') });
    await driver.attachVolume(uuid, { volume_id: 'vol-b', connection_info: fileVolume('b') });
    expect(await driver.detachVolume(uuid, 'vol-a')).to.deep.equal({ live: false, device: 'vdb' });
    const left = disks(await driver.domainXml(uuid));
    expect(left.has('vol-a')).to.equal(false);
    expect(left.get('vol-b')).to.equal('vdc');
    expect((await driver.guestFacts(uuid))?.volumes.map((v) => v.volume_id)).to.deep.equal(['vol-b']);
    const err = await failure(driver.detachVolume(uuid, 'vol-a'));
    expect(err.code).to.equal('DEVICE_NOT_FOUND');
  });

  it('fails a CHAP volume with NOT_SUPPORTED (no secrets in the test driver) and leaves the guest unchanged', async () => {
    const uuid = await running();
    const before = await driver.domainXml(uuid);
    const err = await failure(driver.attachVolume(uuid, {
      volume_id: 'vol-chap',
      connection_info: { driver_volume_type: 'iscsi', data: { target_iqn: 'iqn.x:1', target_lun: 0, target_portal: '192.0.2.1:3260', auth_method: 'CHAP', auth_username: 'u', auth_password: 'hunter2' } },
    }));
    expect(err).to.be.instanceOf(LibvirtError);
    expect(err.code).to.equal('NOT_SUPPORTED');
    expect((err as LibvirtError).libvirtCode).to.equal(3);
    expect(err.message).to.not.include('hunter2');
    expect(await driver.domainXml(uuid)).to.equal(before);
  });

  it('refuses an unknown volume type naming it, and a missing guest with INSTANCE_NOT_FOUND', async () => {
    const uuid = await running();
    const err = await failure(driver.attachVolume(uuid, { volume_id: 'v', connection_info: { driver_volume_type: 'scaleio', data: {} } }));
    expect(err.code).to.equal('NOT_SUPPORTED');
    expect(err.message).to.include("'scaleio'");
    const missing = await failure(driver.attachVolume(randomUUID(), { volume_id: 'v', connection_info: fileVolume('v') }));
    expect(missing.code).to.equal('INSTANCE_NOT_FOUND');
    expect((missing as LibvirtError).libvirtCode).to.equal(42);
  });

  it('plugs and unplugs ports in the persistent definition, with Nova tap names', async () => {
    const uuid = await running();
    const port: Port = { port_id: randomUUID(), mac_address: 'fa:16:3e:12:34:56', vif_type: 'ovs', network: { bridge: 'br-int', mtu: 1450 } };
    const plugged = await driver.plugPort(uuid, port);
    expect(plugged).to.deep.equal({ live: false, device: `tap${port.port_id.slice(0, 11)}` });
    expect(nics(await driver.domainXml(uuid)).get('fa:16:3e:12:34:56')).to.equal(plugged.device);
    expect(await driver.plugPort(uuid, port)).to.deep.equal(plugged);
    expect((await driver.guestFacts(uuid))?.ports).to.deep.equal([{ port_id: port.port_id, vif_type: 'ovs', mac_address: 'fa:16:3e:12:34:56', device: plugged.device }]);
    expect(await driver.unplugPort(uuid, port.port_id)).to.deep.equal(plugged);
    expect(nics(await driver.domainXml(uuid)).size).to.equal(0);
    expect((await failure(driver.unplugPort(uuid, port.port_id))).code).to.equal('DEVICE_NOT_FOUND');
  });

  it('spawns with ports and volumes, and unplugs a spawn port by its recorded MAC', async () => {
    const portId = randomUUID();
    const uuid = await running({
      ports: [{ port_id: portId, mac_address: 'FA:16:3E:00:00:AA', vif_type: 'bridge', network: { bridge: 'br0' } }],
      volumes: [{ volume_id: 'vol-boot', connection_info: fileVolume('boot') }],
      metadata: { role: 'db' },
    });
    const live = await driver.domainXml(uuid, 'live');
    expect(nics(live).get('fa:16:3e:00:00:aa')).to.equal(`tap${portId.slice(0, 11)}`);
    expect(disks(live).get('vol-boot')).to.equal('vdb');
    expect((await driver.guestFacts(uuid))?.metadata).to.deep.equal({ role: 'db' });
    expect((await driver.unplugPort(uuid, portId)).device).to.equal(`tap${portId.slice(0, 11)}`);
    expect(nics(await driver.domainXml(uuid)).size).to.equal(0);
    expect((await driver.detachVolume(uuid, 'vol-boot')).device).to.equal('vdb');
  });
});
