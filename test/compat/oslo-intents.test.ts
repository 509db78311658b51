/**
 * Issue 2's "done when", against the real thing: Debian's oslo.messaging RPC
 * client calls and casts intents to a running worker, and a real
 * oslo.messaging notification listener receives Nova's notifications.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import type { Worker } from '../../src/worker/worker';
import { deleteQueue, notificationsAbout, type PyPeer, startPython } from '../support/python';
import { AMQP_URL, startWorker, uuid } from '../support/worker';

const PY = join(__dirname, '..', '..', '..', 'test', 'compat', 'py');
const FLAVOR = { vcpus: 1, memory_mb: 128, root_gb: 1 };

describe('compat: a real oslo.messaging client and listener talk to a worker', function () {
  this.timeout(120_000);
  let worker: Worker;
  let host: string;
  let client: PyPeer;
  let listener: PyPeer;

  before(async () => {
    ({ worker, config: { host } } = await startWorker({ notificationFormat: 'versioned' }));
    listener = startPython(join(PY, 'oslo_listener.py'), { AMQP_URL, EXCHANGE: 'nova', POOL: `compat-${host}` });
    expect(await listener.next(60_000)).to.deep.equal({ ready: true });
    client = startPython(join(PY, 'oslo_intent_client.py'), { AMQP_URL, EXCHANGE: 'nova', HOST: host });
    expect(await client.next(60_000)).to.deep.equal({ ready: true });
  });

  after(async () => {
    await client?.close();
    await listener?.close();
    await worker?.stop(5_000);
    // The listener's pool queue (oslo declares it, and it outlives the listener).
    await deleteQueue(`compat-${host}`);
  });

  async function step(s: Record<string, unknown>): Promise<Record<string, unknown>> {
    client.send(s);
    return client.next(60_000);
  }

  const call = (method: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) => step({ op: 'call', method, args, ...extra });

  it('spawns, powers off and on, pauses, unpauses, plugs a port and destroys, with replies', async () => {
    const id = uuid();
    const spawned = await call('instance.spawn', { instance_uuid: id, name: `inst-${id.slice(0, 8)}`, flavor: FLAVOR, image: { id: 'cirros' } });
    expect(spawned, JSON.stringify(spawned)).to.have.property('ok', true);
    expect(spawned.result).to.deep.include({ kind: 'instance.spawn', outcome: 'succeeded' });
    expect((spawned.result as { instance: unknown }).instance).to.deep.include({ instance_uuid: id, power_state: 'running', vm_state: 'active' });

    const expectState = async (method: string, power: string, vm: string) => {
      const r = await call(method, { instance_uuid: id });
      expect(r, `${method}: ${JSON.stringify(r)}`).to.have.property('ok', true);
      expect((r.result as { instance: unknown }).instance).to.deep.include({ power_state: power, vm_state: vm, task_state: null });
    };
    await expectState('instance.power_off', 'shutdown', 'stopped');
    await expectState('instance.power_on', 'running', 'active');
    await expectState('instance.pause', 'paused', 'paused');
    await expectState('instance.unpause', 'running', 'active');

    const port = { port_id: uuid(), mac_address: 'fa:16:3e:12:34:56', vif_type: 'ovs', network: { bridge: 'br-int', mtu: 1450 } };
    const plugged = await call('port.plug', { instance_uuid: id, port });
    expect(plugged, JSON.stringify(plugged)).to.have.property('ok', true);
    // libvirt 9.0's test driver cannot hot-plug: the persistent definition changed.
    expect(plugged.result).to.deep.include({ live: false, device: `tap${port.port_id.slice(0, 11)}` });

    const state = await call('instance.get_state', { instance_uuid: id });
    expect(state.result).to.deep.equal({ instance_uuid: id, power_state: 'running', vm_state: 'active', task_state: null });

    const destroyed = await call('instance.destroy', { instance_uuid: id });
    expect(destroyed.result).to.deep.include({ existed: true });
    const again = await call('instance.destroy', { instance_uuid: id });
    expect(again.result, 'destroy is idempotent').to.deep.include({ existed: false });

    // The listener saw Nova's notifications for each action, from nova-compute:<host>.
    const wanted = ['instance.create.end', 'instance.power_off.end', 'instance.power_on.end', 'instance.pause.end', 'instance.unpause.end', 'instance.interface_attach.end', 'instance.delete.end'];
    const seen = await notificationsAbout(listener, id, wanted);
    expect([...seen.keys()]).to.include.members(wanted);
    for (const n of seen.values()) expect(n.publisher_id).to.equal(`nova-compute:${host}`);
    const off = seen.get('instance.power_off.end')?.payload as Record<string, Record<string, unknown>> | undefined;
    expect(off?.['nova_object.data']).to.deep.include({ state: 'stopped', power_state: 'shutdown' });
  });

  it('answers a missing field, an unknown kind and an unsupported version with a RemoteError naming the problem', async () => {
    const missing = await call('instance.power_on', {});
    expect(missing).to.deep.include({ ok: false, exc_class: 'RemoteError', exc_type: 'InvalidIntent' });
    expect(String(missing.value)).to.contain('instance_uuid');

    const unknown = await call('instance.teleport', { instance_uuid: uuid() });
    expect(unknown).to.deep.include({ ok: false, exc_type: 'NoSuchMethod' });
    expect(String(unknown.value)).to.contain('instance.teleport');

    const version = await call('instance.power_on', { instance_uuid: uuid() }, { version: '1.9' });
    expect(version).to.deep.include({ ok: false, exc_type: 'UnsupportedVersion' });
    expect(String(version.value)).to.contain('1.9');

    // The worker lives on and still answers.
    const inv = await call('host.inventory', {});
    expect(inv, JSON.stringify(inv)).to.have.property('ok', true);
    expect(inv.result).to.include.keys('vcpus', 'memory_mb', 'disk_gb', 'instances', 'hypervisor_type', 'hypervisor_version');
  });

  it('applies casts, in order with later calls for the same instance', async () => {
    const id = uuid();
    expect(await step({ op: 'cast', method: 'instance.spawn', args: { instance_uuid: id, name: `cast-${id.slice(0, 8)}`, flavor: FLAVOR } })).to.deep.equal({ ok: true, result: null });
    expect(await step({ op: 'cast', method: 'instance.pause', args: { instance_uuid: id } })).to.deep.equal({ ok: true, result: null });
    // A call queued behind the casts on the same instance sees their effect.
    const r = await call('instance.unpause', { instance_uuid: id });
    expect(r, JSON.stringify(r)).to.have.property('ok', true);
    expect((r.result as { instance: unknown }).instance).to.deep.include({ power_state: 'running' });
    await call('instance.destroy', { instance_uuid: id });
  });
});
