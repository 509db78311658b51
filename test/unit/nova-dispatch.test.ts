/**
 * The dispatch side of serving Nova without a broker: the device-name
 * reservations behind reserve_block_device_name, the facts the worker gives
 * the adapter (what Nova's messages leave out), and host.intents' answer.
 */
import { expect } from 'chai';
import { Instance } from '../../src/adapters/nova';
import type { DeviceChange, Driver, GuestState } from '../../src/drivers/driver';
import { IntentFailure } from '../../src/errors';
import { InstanceBook } from '../../src/host-state/instance-book';
import { queryIntents, queryIntentsPage } from '../../src/dispatch/intent-records';
import { LearntBindings } from '../../src/host-state/learnt-bindings';
import { attachVolume, reserveDevice } from '../../src/dispatch/volume-devices';
import { type IntentArgs, RecordedIntents, RecordedIntentsPage, validateIntent } from '../../src/intents';
import { IntentStore } from '../../src/store/intent-store';
import { rejectionOf } from '../support/failure';

const UUID = '8f0e5c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
const INFO = { driver_volume_type: 'local', data: { device_path: '/dev/null' } };
const PORT = { port_id: '3f2a1b4c-aaaa-4bbb-8ccc-000000000001', mac_address: 'fa:16:3e:00:00:01', vif_type: 'ovs' as const, network: { bridge: 'br-int' } };

/** A driver that knows one guest with the given disks (the guestFacts a libvirt driver also offers) and records attaches. */
function fakeDriver(disks: string[]): Driver & { attached: { volume_id: string; device_name: string | undefined }[]; guestFacts(uuid: string): Promise<{ volumes: { device: string }[] }> } {
  const guest: GuestState = { instance_uuid: UUID, name: 'g', power_state: 'running' };
  const no = () => Promise.reject(new IntentFailure('NOT_SUPPORTED', 'not in this fake'));
  const attached: { volume_id: string; device_name: string | undefined }[] = [];
  return {
    name: 'fake', attached,
    getState: (uuid) => (uuid === UUID ? Promise.resolve(guest) : Promise.reject(new IntentFailure('INSTANCE_NOT_FOUND', uuid))),
    guestFacts: () => Promise.resolve({ volumes: disks.map((device) => ({ device })) }),
    attachVolume: (_uuid, vol): Promise<DeviceChange> => {
      attached.push({ volume_id: vol.volume_id, device_name: vol.device_name });
      return Promise.resolve({ live: false, device: vol.device_name ?? 'driver-choice' });
    },
    spawn: no, destroy: no, powerOn: no, powerOff: no, reboot: no, pause: no, unpause: no, suspend: no, resume: no,
    detachVolume: no, plugPort: no, unplugPort: no, listGuests: no, inventory: no, close: () => Promise.resolve(),
  };
}

const reserveArgs = (over: Record<string, unknown>) => validateIntent('volume.reserve_device', '1.0', { instance_uuid: UUID, ...over }).args as IntentArgs<'volume.reserve_device'>;
const attachArgs = (over: Record<string, unknown>) => validateIntent('volume.attach', '1.1', { instance_uuid: UUID, connection_info: INFO, ...over }).args as IntentArgs<'volume.attach'>;

const failure = (p: Promise<unknown>): Promise<IntentFailure> => rejectionOf(IntentFailure, p);

describe('Nova dispatch: device-name reservations (reserve_block_device_name)', () => {
  it('never gives two reservations of one guest the same name, counting the root disk and the attached volumes', async () => {
    const driver = fakeDriver(['vdb']);
    const book = new InstanceBook('h1');
    const a = await reserveDevice(reserveArgs({ volume_id: 'vol-a' }), { driver, book });
    const b = await reserveDevice(reserveArgs({ volume_id: 'vol-b' }), { driver, book });
    expect([a.device, b.device]).to.deep.equal(['vdc', 'vdd']);
    // Asked again for the same volume: the same name.
    expect((await reserveDevice(reserveArgs({ volume_id: 'vol-a' }), { driver, book })).device).to.equal('vdc');
  });

  it('takes the name asked for when it is free and on the bus asked for, else the next free one', async () => {
    const driver = fakeDriver([]);
    const book = new InstanceBook('h1');
    expect((await reserveDevice(reserveArgs({ volume_id: 'v1', device_name: '/dev/vdf' }), { driver, book })).device).to.equal('vdf');
    expect((await reserveDevice(reserveArgs({ volume_id: 'v2', device_name: '/dev/vdf' }), { driver, book })).device).to.equal('vdb');
    expect((await reserveDevice(reserveArgs({ volume_id: 'v3', disk_bus: 'scsi' }), { driver, book })).device).to.equal('sda');
    expect((await reserveDevice(reserveArgs({ volume_id: 'v4', disk_bus: 'scsi', device_name: 'vdh' }), { driver, book })).device).to.equal('sdb');
  });

  it('refuses what the driver cannot give, naming it: a bus no device name says, a non-disk, multiattach; and a missing guest', async () => {
    const deps = { driver: fakeDriver([]), book: new InstanceBook('h1') };
    expect((await failure(reserveDevice(reserveArgs({ volume_id: 'v', disk_bus: 'sata' }), deps))).message).to.match(/^disk_bus sata: .*virtio \(vd\)/);
    expect((await failure(reserveDevice(reserveArgs({ volume_id: 'v', device_type: 'cdrom' }), deps))).code).to.equal('NOT_SUPPORTED');
    expect((await failure(reserveDevice(reserveArgs({ volume_id: 'v', multiattach: true }), deps))).message).to.contain('multiattach');
    const gone = reserveArgs({ volume_id: 'v' });
    expect((await failure(reserveDevice({ ...gone, instance_uuid: '00000000-0000-4000-8000-000000000000' }, deps))).code).to.equal('INSTANCE_NOT_FOUND');
  });

  it('attach uses and ends the volume\'s reservation, and keeps clear of the others\'', async () => {
    const driver = fakeDriver([]);
    const book = new InstanceBook('h1');
    await reserveDevice(reserveArgs({ volume_id: 'vol-a' }), { driver, book }); // vdb
    await reserveDevice(reserveArgs({ volume_id: 'vol-b' }), { driver, book }); // vdc
    await attachVolume(attachArgs({ volume_id: 'vol-b' }), { driver, book });
    expect(driver.attached.pop()).to.deep.equal({ volume_id: 'vol-b', device_name: 'vdc' });
    expect(book.reservations(UUID).map((r) => r.volume_id)).to.deep.equal(['vol-a']);
    // A volume without a reservation, while vol-a holds vdb: not vdb.
    await attachVolume(attachArgs({ volume_id: 'vol-c' }), { driver, book });
    expect(driver.attached.pop()).to.deep.equal({ volume_id: 'vol-c', device_name: 'vdc' });
    // Naming vol-a's device for another volume is refused, and changes nothing.
    const taken = await failure(attachVolume(attachArgs({ volume_id: 'vol-d', device_name: '/dev/vdb' }), { driver, book }));
    expect(taken.code).to.equal('INVALID_STATE');
    expect(taken.message).to.equal('device vdb is reserved for volume vol-a');
    expect(driver.attached).to.deep.equal([]);
  });

  it('attach without reservations or a bus leaves the name to the driver; a disk_bus that contradicts the name is refused', async () => {
    const driver = fakeDriver([]);
    const book = new InstanceBook('h1');
    await attachVolume(attachArgs({ volume_id: 'v' }), { driver, book });
    expect(driver.attached.pop()).to.deep.equal({ volume_id: 'v', device_name: undefined });
    await attachVolume(attachArgs({ volume_id: 'v', disk_bus: 'scsi' }), { driver, book });
    expect(driver.attached.pop()).to.deep.equal({ volume_id: 'v', device_name: 'sda' });
    const clash = await failure(attachVolume(attachArgs({ volume_id: 'v', disk_bus: 'scsi', device_name: 'vdb' }), { driver, book }));
    expect(clash.message).to.match(/device vdb is on bus virtio, not the disk_bus scsi/);
  });

  it('lets a reservation nobody attaches lapse, and forgets an instance\'s reservations when it is deleted', () => {
    let now = 0;
    const book = new InstanceBook('h1', { reservationTtlMs: 1000, now: () => now });
    book.reserve(UUID, 'v1', 'vdb');
    now = 999;
    expect(book.reservationOf(UUID, 'v1')?.device).to.equal('vdb');
    now = 1001;
    expect(book.reservationOf(UUID, 'v1')).to.equal(undefined);
    book.reserve(UUID, 'v2', 'vdc');
    book.markDeleted(UUID, 'now');
    expect(book.reservations(UUID)).to.deep.equal([]);
  });
});

describe('Nova dispatch: the facts Nova leaves out', () => {
  it('knows a port from a port.plug, a spawn, or the instance book', () => {
    const book = new InstanceBook('h1');
    const dir = new LearntBindings(book);
    expect(dir.lookups.port?.(PORT.port_id)).to.equal(undefined);
    dir.learnIntent(validateIntent('port.plug', '1.0', { instance_uuid: UUID, port: PORT }));
    expect(dir.lookups.port?.(PORT.port_id)).to.deep.equal({ port: PORT });
    const other = { ...PORT, port_id: 'p-2', mac_address: 'fa:16:3e:00:00:02' };
    book.observe(UUID, 'running');
    book.portPlugged(UUID, other);
    expect(dir.lookups.port?.('p-2')).to.deep.equal({ port: other });
  });

  it('learns ports from the network info cache of Nova\'s instances, but never as already active', () => {
    const dir = new LearntBindings(new InstanceBook('h1'));
    const anyone = () => true;
    dir.learnNovaArgs({ instance: { not: 'an instance' }, instances: 'nor this' }, anyone);
    expect(dir.lookups.port?.(PORT.port_id)).to.equal(undefined);
    const instance = { 'nova_object.name': 'Instance', 'nova_object.namespace': 'nova', 'nova_object.version': '2.7', 'nova_object.data': { uuid: UUID, info_cache: rawInfoCache(true) } };
    expect(Instance.safeParse(instance).success).to.equal(true);
    // From a sender that may not plug ports (Cinder), nothing is learnt: the facts would steer a later plug.
    const asked: string[] = [];
    dir.learnNovaArgs({ instances: [instance] }, (kind) => {
      asked.push(kind);
      return false;
    });
    expect(asked).to.deep.equal(['port.plug']);
    expect(dir.lookups.port?.(PORT.port_id)).to.equal(undefined);
    dir.learnNovaArgs({ instances: [instance] }, anyone);
    expect(dir.lookups.port?.(PORT.port_id)).to.deep.equal({
      port: { port_id: PORT.port_id, mac_address: PORT.mac_address, vif_type: 'ovs', network: { bridge: 'br-int', mtu: 1442 } },
      network_id: 'net-1',
    });
  });

  it('gives a Nova attach the connection_info of its attachment, or one recorded without an attachment', () => {
    const dir = new LearntBindings(new InstanceBook('h1'));
    const iscsi = { driver_volume_type: 'iscsi', data: { target_lun: 1 } };
    dir.learnIntent(validateIntent('volume.attach', '1.1', { instance_uuid: UUID, volume_id: 'vol-1', attachment_id: 'att-1', connection_info: iscsi }));
    expect(dir.lookups.connectionInfo?.({ volume_id: 'vol-1', attachment_id: 'att-1' })).to.deep.equal(iscsi);
    expect(dir.lookups.connectionInfo?.({ volume_id: 'vol-1', attachment_id: 'att-2' }), 'another attachment\'s is not this one\'s').to.equal(undefined);
    expect(dir.lookups.connectionInfo?.({ volume_id: 'vol-1' })).to.deep.equal(iscsi);
    dir.learnIntent(validateIntent('volume.attach', '1.0', { instance_uuid: UUID, volume_id: 'vol-1', connection_info: INFO }));
    expect(dir.lookups.connectionInfo?.({ volume_id: 'vol-1', attachment_id: 'att-2' })).to.deep.equal(INFO);
    expect(dir.lookups.connectionInfo?.({ volume_id: 'vol-9' })).to.equal(undefined);
  });
});

function rawInfoCache(active: boolean): Record<string, unknown> {
  return {
    'nova_object.name': 'InstanceInfoCache', 'nova_object.namespace': 'nova', 'nova_object.version': '1.5',
    'nova_object.data': { network_info: JSON.stringify([{ id: PORT.port_id, address: PORT.mac_address, type: 'ovs', active, network: { id: 'net-1', bridge: 'br-int', meta: { mtu: 1442 } } }]) },
  };
}

describe('host.intents: the intent store, as an operator reads it', () => {
  it('answers newest first with ISO times, duration and the failure\'s code and message', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 86_400_000 });
    const t0 = Date.parse('2026-03-01T10:00:00.000Z');
    await store.begin({ intentId: 'a', kind: 'instance.pause', issuer: '', instanceUuid: UUID, args: '{}', request: '{}', receivedAt: t0 }, t0 + 5);
    await store.finish({ intentId: 'a', kind: 'instance.pause', issuer: '' }, 'succeeded', JSON.stringify({ status: 'succeeded', intentId: 'a', kind: 'instance.pause', result: {} }), t0 + 25);
    await store.begin({ intentId: 'b', kind: 'volume.detach', issuer: '', instanceUuid: UUID, args: '{}', request: '{}', receivedAt: t0 + 1000 }, t0 + 1000);
    const error = { code: 'DEVICE_NOT_FOUND', message: 'volume v is not attached', osloClass: 'DeviceNotFound', osloModule: 'hostwall.errors', details: {} };
    await store.finish({ intentId: 'b', kind: 'volume.detach', issuer: '' }, 'failed', JSON.stringify({ status: 'failed', intentId: 'b', kind: 'volume.detach', error }), t0 + 1010);
    await store.begin({ intentId: 'c', kind: 'instance.reboot', issuer: '', instanceUuid: undefined, args: '{}', request: '{}', receivedAt: t0 + 2000 }, t0 + 2000);
    const q = (args: Record<string, unknown>) => queryIntentsPage(validateIntent('host.intents', '1.0', args).args as IntentArgs<'host.intents'>, store).intents;
    const all = q({});
    expect(RecordedIntents.safeParse(all).success, 'the reply schema describes it').to.equal(true);
    expect(all.map((r) => r.intent_id)).to.deep.equal(['c', 'b', 'a']);
    expect(all[2]).to.deep.equal({
      intent_id: 'a', kind: 'instance.pause', instance_uuid: UUID, state: 'succeeded', received_at: '2026-03-01T10:00:00.000Z',
      started_at: '2026-03-01T10:00:00.005Z', finished_at: '2026-03-01T10:00:00.025Z', duration_ms: 20, error: null,
    });
    expect(all[1]?.error).to.deep.equal({ code: 'DEVICE_NOT_FOUND', message: 'volume v is not attached' });
    expect(all[0]).to.deep.include({ state: 'started', finished_at: null, duration_ms: null, instance_uuid: null });
    expect(q({ state: 'failed' }).map((r) => r.intent_id)).to.deep.equal(['b']);
    expect(q({ since: '2026-03-01T10:00:01Z' }).map((r) => r.intent_id)).to.deep.equal(['c', 'b']);
    expect(q({ limit: 1 }).map((r) => r.intent_id)).to.deep.equal(['c']);
    store.close();
  });

  it('pages by cursor within max_bytes, through rows received in the same millisecond, and cuts what an old store holds', async () => {
    const store = IntentStore.open({ path: ':memory:', runId: 'run-1', retentionMs: 86_400_000 });
    const t0 = Date.now() - 10_000;
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) {
      // Ten rows per millisecond; one id as long as a store without bounds could hold.
      const id = i === 7 ? `seven-${'x'.repeat(100_000)}` : `id-${String(i).padStart(2, '0')}`;
      ids.push(id);
      await store.begin({ intentId: id, kind: 'instance.pause', issuer: '', instanceUuid: UUID, args: '{}', request: '{}', receivedAt: t0 + Math.floor(i / 10) }, t0);
    }
    const ask = (args: Record<string, unknown>) => queryIntents(validateIntent('host.intents', '1.1', { paged: true, ...args }).args as IntentArgs<'host.intents'>, store);
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    for (;;) {
      const page = ask({ limit: 1000, max_bytes: 16_384, ...(before ? { before } : {}) });
      expect(RecordedIntentsPage.safeParse(page).success, 'the page schema describes it').to.equal(true);
      if (!('intents' in page)) throw new Error('not a page');
      expect(Buffer.byteLength(JSON.stringify(page.intents))).to.be.at.most(16_384);
      seen.push(...page.intents.map((r) => r.intent_id));
      pages++;
      if (!page.more) break;
      before = page.next ?? undefined;
    }
    expect(pages).to.be.above(1);
    const expected = [...ids].reverse().map((id) => (id.length > 129 ? `${id.slice(0, 128)}…` : id));
    expect(seen).to.deep.equal(expected);
    // The limit stops a page too, and says so.
    const first = ask({ limit: 5 });
    expect('intents' in first && first.intents.length === 5 && first.more && typeof first.next === 'string').to.equal(true);
    // 1.0, or without paged: the bare array, as before.
    expect(Array.isArray(queryIntents(validateIntent('host.intents', '1.0', {}).args as IntentArgs<'host.intents'>, store))).to.equal(true);
    expect(() => validateIntent('host.intents', '1.0', { paged: true })).to.throw(/1\.1/);
    store.close();
  });
});
