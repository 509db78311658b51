/**
 * Every Nova object primitive hostwall sends the conductor is one Debian's
 * real Nova (Zed) deserializes as nova-conductor would: right field types,
 * valid enum values (hv_type, arch, vm_state...), and exactly the changes
 * hostwall means to write.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { ComputeNodeRecord } from '../../src/adapters/nova/compute-host/compute-node';
import { NovaRecords } from '../../src/adapters/nova/compute-host/nova-records';
import { SchedulerClient } from '../../src/adapters/nova/compute-host/scheduler-client';
import { ServiceRecord } from '../../src/adapters/nova/compute-host/service-record';
import { ComputeHostSettings } from '../../src/adapters/nova/compute-host/settings';
import { ConductorClient } from '../../src/adapters/nova/conductor/conductor-client';
import { errorInfo } from '../../src/dispatch/outcome';
import { IntentFailure } from '../../src/errors';
import { validateIntent } from '../../src/intents';
import { createLogger } from '../../src/log';
import type { Transport } from '../../src/transport/transport';
import { capturedAnswer, conductorCalls, receivedRequest, ScriptedRpc } from '../support/nova-upward';
import { DEBIAN_PYTHON } from '../support/python';

const SCRIPT = join(__dirname, '..', '..', '..', 'test', 'compat', 'py', 'nova_object_check.py');
const log = createLogger({ level: 'error', format: 'json' });
const transport = { declare: async () => undefined } as unknown as Transport;

interface Checked { name?: string; changed?: string[]; fields?: Record<string, unknown>; error?: string }

function novaReads(primitives: unknown[]): Checked[] {
  const out = execFileSync(DEBIAN_PYTHON, [SCRIPT], { input: JSON.stringify(primitives), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out) as Checked[];
}

describe('Nova objects hostwall sends, read by Debian Nova', function () {
  this.timeout(60_000);

  it('Service and ComputeNode (create and save), InstanceFault and every Instance.save of a build deserialize with the changes meant', async () => {
    const captured = conductorCalls();
    const rpc = new ScriptedRpc((label) => {
      if (label === 'Service.get_by_host_and_binary') return { result: null };
      if (label === 'ComputeNodeList.get_all_by_host') return capturedAnswer(captured, label);
      if (label === 'InstanceList.get_by_host_and_node') return capturedAnswer(captured, label);
      if (label.startsWith('InstanceActionEvent')) return { result: null };
      if (label === 'InstanceFault.create') return { result: [{}, null] };
      return capturedAnswer(captured, label);
    });
    const conductor = new ConductorClient(rpc, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log);
    const settings = ComputeHostSettings.parse({ host: 'hw-1', nodename: 'hw-1', myIp: '192.0.2.7' });
    await new ServiceRecord(conductor, 'hw-1', log).register();
    const node = new ComputeNodeRecord(conductor, settings, 'hw-1', log);
    await node.register({ vcpus: 8, memory_mb: 16000, disk_gb: 100, instances: 0, hypervisor_type: 'TEST', hypervisor_version: 9000000 }, async () => [
      { uuid: 'a', vm_state: 'active', task_state: null, os_type: null, project_id: 'p1', vcpus: 1, memory_mb: 512, disk_gb: 1 },
    ]);
    const records = new NovaRecords({
      conductor, scheduler: new SchedulerClient(rpc, transport, 'hw-1'), host: 'hw-1', node: () => 'hw-1', deadlineMs: 0, log,
      allocations: { deleteConsumerAllocations: async () => 'deleted' }, stopped: () => false, resourcesChanged: () => undefined,
    });
    const req = receivedRequest('build_and_run_instance');
    const [hooks] = records.forNovaRequest(req, [validateIntent('instance.get_state', '1.0', { instance_uuid: '09d9c914-14b8-4674-922a-808c3edf7b82' })]);
    await hooks?.before?.();
    await hooks?.failed?.(errorInfo(new IntentFailure('LIBVIRT_ERROR', 'no')), undefined);

    const sent = rpc.calls.filter((c) => c.req.method === 'object_action');
    const primitives = sent.map((c) => c.req.args.objinst);
    const read = novaReads(primitives);
    read.forEach((r, i) => {
      expect(r.error, `${sent[i]?.label}: ${r.error}`).to.equal(undefined);
      const meant = [...(((primitives[i] as Record<string, unknown>)['nova_object.changes'] as string[] | undefined) ?? [])].sort();
      expect(r.changed, sent[i]?.label).to.deep.equal(meant);
    });
    expect(sent.map((c) => c.label)).to.include.members(['Service.create', 'ComputeNode.create', 'ComputeNode.save', 'Instance.save', 'InstanceFault.create']);
    const hv = read.find((r) => r.name === 'ComputeNode');
    expect(hv?.fields?.host_ip).to.equal("IPAddress('192.0.2.7')");
  });
});
