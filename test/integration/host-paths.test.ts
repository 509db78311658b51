/**
 * Host paths a message names (a volume's device_path, an NFS volume's name, a
 * spawn's image.path) against a real worker on the libvirt test driver:
 * - a path outside the configured roots, one that climbs out with `..`, one
 *   that a symlink inside a root sends elsewhere, another instance's disk,
 *   a directory, a FIFO or a device not reached through a block-device
 *   directory fails PATH_NOT_ALLOWED naming the path, and nothing reaches
 *   the guest's definition (a refused spawn defines no guest);
 * - a regular file inside a root, and a block device reached through a
 *   block-device directory, are attached;
 * - spawns whose image is a FIFO cannot hold the build slots: a valid spawn
 *   sent after as many of them as there are slots still runs (before, each
 *   one blocked a libuv thread in open() and kept its build slot for ever).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { IntentClient } from '../../src/client/intent-client';
import { type LibvirtDriver, openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { RemoteError } from '../../src/oslo/failure';
import type { Transport } from '../../src/transport/transport';
import type { Worker } from '../../src/worker/worker';
import { type HungMount, hungMountUnavailable, mountHung } from '../support/hung-mount';
import { connectTransport, startWorker, uuid } from '../support/worker';
import { rejectionOf } from '../support/failure';

const FLAVOR = { vcpus: 1, memory_mb: 64, root_gb: 0 };
const asNova = { context: { issuer: 'nova' } };

const failure = (p: Promise<unknown>): Promise<RemoteError> => rejectionOf(RemoteError, p);

describe('host paths in intents: only files and devices inside the configured roots reach a guest', function () {
  this.timeout(60_000);
  let dir: string;
  let instances: string;
  let blockDir: string;
  let worker: Worker;
  let host: string;
  let transport: Transport;
  let client: IntentClient;
  /** The worker's hypervisor seen from beside it (test:///default is one state per process). */
  let observer: LibvirtDriver;
  let instance: string;
  const fifos: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hw-paths-'));
    instances = join(dir, 'instances');
    blockDir = join(dir, 'by-path');
    mkdirSync(instances);
    mkdirSync(blockDir);
    writeFileSync(join(instances, 'good.img'), 'raw disk');
    symlinkSync('/etc/passwd', join(instances, 'evil.img'));
    mkdirSync(join(instances, 'a-directory'));
    // A block device node (loop0's numbers; never opened) and a by-path style link to it.
    execFileSync('mknod', [join(dir, 'blk0'), 'b', '7', '0']);
    symlinkSync(join(dir, 'blk0'), join(blockDir, 'ip-10.0.0.1:3260-iscsi-iqn.x-lun-1'));
    symlinkSync('/dev/null', join(blockDir, 'ip-10.0.0.1:3260-iscsi-iqn.x-lun-2'));
    const w = await startWorker({ instancesPath: instances, maxConcurrentBuilds: 2, blockDeviceDirs: [blockDir], hostPathTimeoutMs: 2_000 });
    worker = w.worker;
    host = w.config.host;
    transport = await connectTransport('test-host-paths');
    client = new IntentClient(transport, { controlExchange: 'nova' });
    observer = await openLibvirtDriver({ connections: 1 });
    instance = uuid();
    await client.call(host, 'instance.spawn', { instance_uuid: instance, name: `hp-${instance.slice(0, 8)}`, flavor: FLAVOR }, asNova);
  });

  after(async () => {
    // Before the fix a FIFO spawn sits in open() until a writer comes: give it one so the worker can stop.
    for (const f of fifos) closeSync(openSync(f, fsc.O_RDWR | fsc.O_NONBLOCK));
    await transport?.close();
    await worker?.stop(5_000);
    await observer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const attach = (volume_id: string, driver_volume_type: string, data: Record<string, unknown>) =>
    client.call(host, 'volume.attach', { instance_uuid: instance, volume_id, connection_info: { driver_volume_type, data } }, { ...asNova, timeoutMs: 20_000 });

  const refused: { name: string; type: string; data: () => Record<string, unknown>; path: RegExp }[] = [
    { name: 'a host file outside every root', type: 'file', data: () => ({ device_path: '/etc/shadow' }), path: /\/etc\/shadow/ },
    { name: 'a host disk not reached through a block-device directory', type: 'local', data: () => ({ device_path: '/dev/sda' }), path: /\/dev\/sda/ },
    { name: 'a path climbing out of a root with ..', type: 'file', data: () => ({ device_path: `${instances}/../../../../etc/shadow` }), path: /\.\./ },
    { name: 'an NFS volume name climbing out of the mount with ..', type: 'nfs', data: () => ({ export: '10.0.0.9:/srv/nfs', name: '../../../../../../etc/shadow' }), path: /\.\./ },
    { name: 'a symlink inside a root pointing outside', type: 'file', data: () => ({ device_path: join(instances, 'evil.img') }), path: /\/etc\/passwd/ },
    { name: 'another instance\'s disk', type: 'file', data: () => ({ device_path: join(instances, uuid(), 'disk') }), path: /disk/ },
    { name: 'a directory', type: 'file', data: () => ({ device_path: join(instances, 'a-directory') }), path: /a-directory/ },
    { name: 'a character device behind a block-device link', type: 'local', data: () => ({ device_path: join(blockDir, 'ip-10.0.0.1:3260-iscsi-iqn.x-lun-2') }), path: /\/dev\/null/ },
    { name: 'a relative path', type: 'file', data: () => ({ device_path: 'etc/shadow' }), path: /etc\/shadow/ },
  ];

  for (const r of refused) {
    it(`refuses ${r.name} with PATH_NOT_ALLOWED, naming it, and leaves the guest without it`, async () => {
      const volumeId = `vol-${uuid().slice(0, 8)}`;
      const err = await failure(attach(volumeId, r.type, r.data()));
      expect(err.code, err.message).to.equal('PATH_NOT_ALLOWED');
      expect(err.remoteMessage).to.match(r.path);
      if (process.env.SHOW_REFUSALS) console.log(err.remoteMessage);
      expect(await observer.domainXml(instance)).to.not.include(volumeId);
    });
  }

  it('refuses a spawn whose image is a host file outside the roots, and defines no guest', async () => {
    const id = uuid();
    const err = await failure(client.call(host, 'instance.spawn', { instance_uuid: id, name: `hp-${id.slice(0, 8)}`, flavor: FLAVOR, image: { id: 'x', path: '/etc/shadow' } }, asNova));
    expect(err.code, err.message).to.equal('PATH_NOT_ALLOWED');
    expect(err.remoteMessage).to.include('/etc/shadow');
    const gone = await failure(client.call(host, 'instance.get_state', { instance_uuid: id }));
    expect(gone.code).to.equal('INSTANCE_NOT_FOUND');
  });

  it('attaches a regular file inside a root, a missing file under the allow-list (the test driver opens no disk) and a block device reached through a block-device directory', async () => {
    expect(await attach('vol-good', 'file', { device_path: join(instances, 'good.img') })).to.deep.include({ device: 'vda' });
    expect(await attach('vol-allowed', 'file', { device_path: '/var/lib/hostwall/volumes/vol-allowed.img' })).to.deep.include({ device: 'vdb' });
    expect(await attach('vol-iscsi', 'local', { device_path: join(blockDir, 'ip-10.0.0.1:3260-iscsi-iqn.x-lun-1') })).to.deep.include({ device: 'vdc' });
    const xml = await observer.domainXml(instance);
    expect(xml).to.include(`<source file='${join(instances, 'good.img')}'/>`);
    // The stable by-path name is what the guest's definition keeps, as Nova's does; the device is a block disk.
    expect(xml).to.match(new RegExp(`<disk type='block' device='disk'>\\s*<driver[^>]*/>\\s*<source dev='${blockDir}/ip-10.0.0.1:3260-iscsi-iqn.x-lun-1'/>`));
  });

  it('refuses spawns whose image is a FIFO without taking their build slots: a valid spawn after them runs', async () => {
    const spawns: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      const fifo = join(instances, `fifo-${i}.img`);
      execFileSync('mkfifo', [fifo]);
      fifos.push(fifo);
      const id = uuid();
      spawns.push(client.call(host, 'instance.spawn', { instance_uuid: id, name: `ff-${id.slice(0, 8)}`, flavor: FLAVOR, image: { id: 'x', path: fifo } }, { ...asNova, timeoutMs: 20_000 }).then(() => 'ok', (e: RemoteError) => e.code ?? e.message));
    }
    const id = uuid();
    const ok = await client.call(host, 'instance.spawn', { instance_uuid: id, name: `ok-${id.slice(0, 8)}`, flavor: FLAVOR }, { ...asNova, timeoutMs: 10_000 });
    expect(ok).to.deep.nested.include({ 'instance.power_state': 'running' });
    expect(await Promise.all(spawns)).to.deep.equal(['PATH_NOT_ALLOWED', 'PATH_NOT_ALLOWED', 'PATH_NOT_ALLOWED', 'PATH_NOT_ALLOWED']);
  });
});

describe('host paths on a hung filesystem (FUSE standing in for a hung NFS server)', function () {
  this.timeout(60_000);
  let dir: string;
  let mount: HungMount | undefined;
  let worker: Worker | undefined;
  let host: string;
  let transport: Transport | undefined;
  let client: IntentClient;

  before(async function () {
    const why = hungMountUnavailable();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'hw-hung-'));
    const instances = join(dir, 'instances');
    mkdirSync(join(instances, 'nfs'), { recursive: true });
    mount = await mountHung(join(instances, 'nfs'));
    const w = await startWorker({ instancesPath: instances, maxConcurrentBuilds: 2, hostPathTimeoutMs: 1_000 });
    worker = w.worker;
    host = w.config.host;
    transport = await connectTransport('test-host-paths-hung');
    client = new IntentClient(transport, { controlExchange: 'nova' });
  });

  after(async () => {
    // First: every call waiting on the mount (the worker's abandoned threads, or before the fix its pool threads) gets ENOTCONN.
    await mount?.release();
    await transport?.close();
    await worker?.stop(5_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails spawns whose image never answers with PATH_TIMEOUT, freeing their build slots: a valid spawn after them runs', async () => {
    const hung = (mount as HungMount).hungFile;
    const spawns = [0, 1, 2].map(() => {
      const id = uuid();
      return client
        .call(host, 'instance.spawn', { instance_uuid: id, name: `hg-${id.slice(0, 8)}`, flavor: FLAVOR, image: { id: 'x', path: hung } }, { ...asNova, timeoutMs: 20_000 })
        .then(() => 'ok', (e: RemoteError) => `${e.code}: ${e.remoteMessage}`);
    });
    const id = uuid();
    const ok = await client.call(host, 'instance.spawn', { instance_uuid: id, name: `ok-${id.slice(0, 8)}`, flavor: FLAVOR }, { ...asNova, timeoutMs: 15_000 });
    expect(ok).to.deep.nested.include({ 'instance.power_state': 'running' });
    for (const r of await Promise.all(spawns)) expect(r).to.match(/^PATH_TIMEOUT: .*hung\.img: the filesystem did not return within 1000 ms/);
  });
});
