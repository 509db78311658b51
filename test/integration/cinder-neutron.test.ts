/**
 * Cinder and Neutron on an equal footing with Nova, through a real worker:
 * the port-ready handshake in both orders and both timeout modes, and
 * concurrent volume attaches serialized by the wall instead of file locks.
 */
import { expect } from 'chai';
import { IntentClient } from '../../src/client/intent-client';
import { RemoteError } from '../../src/oslo/failure';
import type { Transport } from '../../src/transport/transport';
import type { Worker } from '../../src/worker/worker';
import { eventually } from '../support/eventually';
import { connectTransport, startWorker, uuid } from '../support/worker';
import { rejectionOf } from '../support/failure';

const FLAVOR = { vcpus: 1, memory_mb: 64, root_gb: 0 };
const port = (n: number) => ({ port_id: uuid(), mac_address: `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`, vif_type: 'ovs', network: { bridge: 'br-int' } });
const asNova = { context: { issuer: 'nova' } };
const asNeutron = { context: { issuer: 'neutron' } };
const asCinder = { context: { issuer: 'cinder' } };

const failure = (p: Promise<unknown>): Promise<RemoteError> => rejectionOf(RemoteError, p);

describe('Cinder and Neutron through the wall', function () {
  this.timeout(60_000);
  let fatal: { worker: Worker; host: string };
  let lenient: { worker: Worker; host: string };
  let transport: Transport;
  let client: IntentClient;

  before(async () => {
    const a = await startWorker({ vifPluggingTimeoutMs: 2_000, vifPluggingIsFatal: true });
    const b = await startWorker({ vifPluggingTimeoutMs: 1_000, vifPluggingIsFatal: false });
    fatal = { worker: a.worker, host: a.config.host };
    lenient = { worker: b.worker, host: b.config.host };
    transport = await connectTransport('test-cinder-neutron');
    client = new IntentClient(transport, { controlExchange: 'nova' });
  });

  after(async () => {
    await transport?.close();
    await fatal?.worker.stop(5_000);
    await lenient?.worker.stop(5_000);
  });

  it('keeps a spawn paused until Neutron says every port is ready, then resumes it', async () => {
    const id = uuid();
    const ports = [port(1), port(2)];
    const spawn = client.call(fatal.host, 'instance.spawn', { instance_uuid: id, name: `hs-${id.slice(0, 8)}`, flavor: FLAVOR, ports }, asNova);
    // The guest exists, paused, while it waits (get_state takes no lock).
    // Between define and start the guest is shut off; ask until it has started paused.
    const state = await eventually('the guest started paused', () => client.call(fatal.host, 'instance.get_state', { instance_uuid: id }) as Promise<{ power_state?: string }>,
      (s) => s.power_state === 'paused', { intervalMs: 20 });
    expect(state).to.deep.include({ power_state: 'paused', task_state: 'spawning' });
    const first = await client.call(fatal.host, 'port.ready', { port_id: ports[0]?.port_id }, asNeutron);
    expect(first).to.deep.include({ waiter: true, status: 'completed' });
    await client.cast(fatal.host, 'port.ready', { port_id: ports[1]?.port_id }, asNeutron);
    const done = await spawn;
    expect(done).to.deep.nested.include({ 'instance.power_state': 'running', 'instance.vm_state': 'active' });
    await client.call(fatal.host, 'instance.destroy', { instance_uuid: id }, asNova);
  });

  it('remembers a port.ready that arrives before the spawn', async () => {
    const id = uuid();
    const p = port(3);
    const early = await client.call(fatal.host, 'port.ready', { port_id: p.port_id }, asNeutron);
    expect(early).to.deep.include({ waiter: false });
    const t0 = Date.now();
    const done = await client.call(fatal.host, 'instance.spawn', { instance_uuid: id, name: `early-${id.slice(0, 8)}`, flavor: FLAVOR, ports: [p] }, asNova);
    expect(done).to.deep.nested.include({ 'instance.power_state': 'running' });
    expect(Date.now() - t0, 'did not wait for the timeout').to.be.below(1500);
    await client.call(fatal.host, 'instance.destroy', { instance_uuid: id }, asNova);
  });

  it('fails the spawn and removes the guest past vif_plugging_timeout when it is fatal', async () => {
    const id = uuid();
    const err = await failure(client.call(fatal.host, 'instance.spawn', { instance_uuid: id, name: `late-${id.slice(0, 8)}`, flavor: FLAVOR, ports: [port(4)] }, asNova));
    expect(err.osloClass).to.equal('VirtualInterfaceCreateException');
    expect(err.message).to.contain('Timeout waiting for port.ready');
    const gone = await failure(client.call(fatal.host, 'instance.get_state', { instance_uuid: id }));
    expect(gone.osloClass).to.equal('InstanceNotFound');
  });

  it('starts the guest anyway past the timeout when vif_plugging_is_fatal is false', async () => {
    const id = uuid();
    const done = await client.call(lenient.host, 'instance.spawn', { instance_uuid: id, name: `lenient-${id.slice(0, 8)}`, flavor: FLAVOR, ports: [port(5)] }, asNova);
    expect(done).to.deep.nested.include({ 'instance.power_state': 'running' });
    await client.call(lenient.host, 'instance.destroy', { instance_uuid: id }, asNova);
  });

  it('serializes 20 concurrent volume.attach for different volumes on one instance: all succeed, distinct devices', async () => {
    const id = uuid();
    await client.call(fatal.host, 'instance.spawn', { instance_uuid: id, name: `race-${id.slice(0, 8)}`, flavor: FLAVOR }, asNova);
    const results = (await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.call(fatal.host, 'volume.attach', {
          instance_uuid: id, volume_id: `vol-${i}-${id.slice(0, 8)}`,
          connection_info: { driver_volume_type: 'file', data: { device_path: `/var/lib/hostwall/volumes/vol-${i}.img` } },
        }, asCinder),
      ),
    )) as { device: string; live: boolean }[];
    const devices = results.map((r) => r.device);
    expect(new Set(devices).size, devices.join(',')).to.equal(20);
    for (const r of results) expect(r.live).to.equal(false);
    await client.call(fatal.host, 'instance.destroy', { instance_uuid: id }, asNova);
  });
});
