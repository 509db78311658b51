/**
 * Registration as nova-compute does it (compared with the captured first
 * start), and a restart that finds its rows and writes nothing.
 */
import { expect } from 'chai';
import { ComputeNodeRecord } from '../../src/adapters/nova/compute-host/compute-node';
import { ServiceRecord } from '../../src/adapters/nova/compute-host/service-record';
import { ComputeHostSettings } from '../../src/adapters/nova/compute-host/settings';
import { ConductorClient } from '../../src/adapters/nova/conductor/conductor-client';
import { createLogger } from '../../src/log';
import { capturedAnswer, conductorCalls, groupCalls, ScriptedRpc } from '../support/nova-upward';

const log = createLogger({ level: 'error', format: 'json' });
const settings = ComputeHostSettings.parse({ host: 'nova-cp-compute1', nodename: 'nova-cp-compute1', myIp: '127.0.0.1' });
const inventory = { vcpus: 2, memory_mb: 8192, disk_gb: 1028, instances: 0, hypervisor_type: 'QEMU', hypervisor_version: 9000000 };

function changesOf(label: string): string[] {
  const c = groupCalls(conductorCalls(), 'startup').find((x) => x.label === label);
  const inst = c?.msg.args.objinst as Record<string, unknown> | undefined;
  return [...((inst?.['nova_object.changes'] as string[] | undefined) ?? [])].sort();
}

describe('Nova compute host: registration', () => {
  it('creates the service and the compute node with the fields nova-compute creates them with', async () => {
    const captured = conductorCalls();
    const rpc = new ScriptedRpc((label) => capturedAnswer(captured, label));
    const conductor = new ConductorClient(rpc, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log);
    const service = new ServiceRecord(conductor, settings.host, log);
    expect(await service.register()).to.equal('created');
    expect(rpc.objectActions('Service.create')[0]?.changes).to.deep.equal(changesOf('Service.create'));
    const capturedCreate = groupCalls(captured, 'startup').find((c) => c.label === 'Service.create')?.msg.args.objinst as Record<string, unknown> | undefined;
    expect(rpc.objectActions('Service.create')[0]?.data).to.deep.equal(capturedCreate?.['nova_object.data']);
    expect(service.id).to.equal(4);
    await service.beat();
    expect(rpc.objectActions('Service.save')[0]).to.deep.include({ changes: ['report_count'] });
    expect(rpc.objectActions('Service.save')[0]?.data.report_count).to.equal(1);
    const node = new ComputeNodeRecord(conductor, settings, settings.nodename, log);
    expect(await node.register(inventory, async () => [])).to.equal('created');
    expect(rpc.objectActions('ComputeNode.create')[0]?.changes).to.deep.equal(changesOf('ComputeNode.create'));
    expect(node.uuid).to.equal('14c3ea28-784d-420d-a399-c71e699f198f');
  });

  it('after a restart finds its service and compute node, and writes nothing when nothing changed', async () => {
    // A conductor that writes what it is given (no updates of its own), then serves the rows back.
    const notFound = capturedAnswer(conductorCalls(), 'ComputeNodeList.get_all_by_host');
    const first = new ScriptedRpc((label, req) => {
      if (label === 'Service.get_by_host_and_binary') return { result: null };
      if (label === 'Service.create') return { result: [{ id: 4, uuid: 's-1' }, null] };
      if (label === 'ComputeNodeList.get_all_by_host') return notFound;
      // As the real conductor: nested objects come back with change lists of their own (captured reply).
      const inst = (req.args.objinst ?? {}) as Record<string, Record<string, unknown>>;
      const specs = (inst['nova_object.data']?.supported_hv_specs as Record<string, unknown>[] | undefined)?.map((p) => ({ ...p, 'nova_object.changes': ['vm_mode', 'arch', 'hv_type'] }));
      if (label === 'ComputeNode.create') return { result: [{ id: 1, uuid: 'n-1', supported_hv_specs: specs }, null] };
      if (label === 'ComputeNode.save') return { result: [{ supported_hv_specs: specs }, null] };
      return { result: [{}, null] };
    });
    const c1 = new ConductorClient(first, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log);
    await new ServiceRecord(c1, settings.host, log).register();
    const node1 = new ComputeNodeRecord(c1, settings, settings.nodename, log);
    await node1.register(inventory, async () => []);
    const serviceRow = { 'nova_object.name': 'Service', 'nova_object.namespace': 'nova', 'nova_object.version': '1.22', 'nova_object.data': { ...first.objectActions('Service.create')[0]?.data, id: 4, uuid: 's-1' } };
    const nodeRow = { 'nova_object.name': 'ComputeNode', 'nova_object.namespace': 'nova', 'nova_object.version': '1.19', 'nova_object.data': node1.fields };
    const again = new ScriptedRpc((label) => {
      if (label === 'Service.get_by_host_and_binary') return { result: serviceRow };
      if (label === 'ComputeNodeList.get_all_by_host') return { result: { 'nova_object.name': 'ComputeNodeList', 'nova_object.namespace': 'nova', 'nova_object.version': '1.17', 'nova_object.data': { objects: [nodeRow] } } };
      throw new Error(`unexpected ${label} on restart`);
    });
    const c2 = new ConductorClient(again, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log);
    expect(await new ServiceRecord(c2, settings.host, log).register()).to.equal('reused');
    const node2 = new ComputeNodeRecord(c2, settings, settings.nodename, log);
    expect(await node2.register(inventory, async () => [])).to.equal('reused');
    expect(again.labels()).to.deep.equal(['Service.get_by_host_and_binary', 'ComputeNodeList.get_all_by_host']);
    expect(node2.uuid).to.equal(node1.uuid);
  });

  it('reuses the one compute node of its host whatever its name, and refuses to guess among several', async () => {
    const row = (name: string, uuid: string) => ({ 'nova_object.name': 'ComputeNode', 'nova_object.namespace': 'nova', 'nova_object.version': '1.19', 'nova_object.data': { uuid, hypervisor_hostname: name, host: settings.host } });
    const list = (...objects: unknown[]) => ({ result: { 'nova_object.name': 'ComputeNodeList', 'nova_object.namespace': 'nova', 'nova_object.version': '1.17', 'nova_object.data': { objects } } });
    const one = new ScriptedRpc((label) => (label === 'ComputeNodeList.get_all_by_host' ? list(row('host.example.org', 'u-1')) : { result: [{}, null] }));
    const n1 = new ComputeNodeRecord(new ConductorClient(one, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log), settings, settings.nodename, log);
    expect(await n1.register(inventory, async () => [])).to.equal('reused');
    expect(n1.name).to.equal('host.example.org');
    const two = new ScriptedRpc(() => list(row('a', 'u-1'), row('b', 'u-2')));
    const n2 = new ComputeNodeRecord(new ConductorClient(two, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log), settings, settings.nodename, log);
    let err: unknown;
    await n2.register(inventory, async () => []).catch((e: unknown) => {
      err = e;
    });
    expect(String(err)).to.match(/2 compute nodes .* nova_nodename/);
  });
});
