/**
 * What the power sync writes to Nova for a guest changed outside Nova's
 * requests (nova-compute's _sync_instance_power_state, with hostwall's one
 * deliberate difference), and the resource tracker's usage figures.
 */
import { expect } from 'chai';
import { powerSyncChanges } from '../../src/adapters/nova/compute-host/power-sync';
import { inventoryOf, novaHvType, type PlacedInstance, ratio, usageFields } from '../../src/adapters/nova/compute-host/resources';
import { ComputeHostSettings } from '../../src/adapters/nova/compute-host/settings';
import type { InstanceView } from '../../src/host-state/instance-view';

function guest(power: InstanceView['power_state'], vm: InstanceView['vm_state']): InstanceView {
  return {
    uuid: 'u', name: 'instance-00000001', host: 'h', flavor: undefined, image_id: undefined, metadata: {}, power_state: power, vm_state: vm,
    task_state: null, created_at: undefined, launched_at: undefined, terminated_at: undefined, ports: [], volumes: [],
  };
}

describe('Nova compute host: power sync and resource usage', () => {
  it('writes the power state always, and vm_state only between active, stopped, paused and suspended', () => {
    expect(powerSyncChanges({ vm_state: 'active', power_state: 1 }, guest('shutdown', 'stopped'))).to.deep.equal({ power_state: 4, vm_state: 'stopped' });
    expect(powerSyncChanges({ vm_state: 'active', power_state: 1 }, guest('crashed', 'error'))).to.deep.equal({ power_state: 6 });
    expect(powerSyncChanges({ vm_state: 'stopped', power_state: 4 }, guest('running', 'active'))).to.deep.equal({ power_state: 1, vm_state: 'active' });
    expect(powerSyncChanges({ vm_state: 'error', power_state: 4 }, guest('running', 'active'))).to.deep.equal({ power_state: 1 });
    expect(powerSyncChanges({ vm_state: 'active', power_state: 1 }, guest('running', 'active'))).to.deep.equal({});
    // A guest the hypervisor no longer has: NOSTATE, vm_state left to Nova ("unexpectedly not found").
    expect(powerSyncChanges({ vm_state: 'active', power_state: 1 }, undefined)).to.deep.equal({ power_state: 0 });
  });

  it('counts the instances Nova placed here as the resource tracker does, reserved memory included', () => {
    const s = ComputeHostSettings.parse({ host: 'h', nodename: 'h', myIp: '127.0.0.1', reservedHostDiskMb: 1500 });
    const inv = { vcpus: 4, memory_mb: 8192, disk_gb: 100, instances: 2, hypervisor_type: 'QEMU', hypervisor_version: 9 };
    const placed: PlacedInstance[] = [
      { uuid: 'a', vm_state: 'active', task_state: null, os_type: null, project_id: 'p1', vcpus: 2, memory_mb: 1024, disk_gb: 10 },
      { uuid: 'b', vm_state: 'building', task_state: 'spawning', os_type: 'linux', project_id: 'p1', vcpus: 1, memory_mb: 512, disk_gb: 1 },
      { uuid: 'c', vm_state: 'deleted', task_state: null, os_type: null, project_id: 'p2', vcpus: 8, memory_mb: 9999, disk_gb: 99 },
    ];
    const u = usageFields(placed, inv, s);
    expect(u).to.include({ vcpus_used: 3, memory_mb_used: 512 + 1536, local_gb_used: 2 + 11, free_ram_mb: 8192 - 2048, free_disk_gb: 100 - 13, running_vms: 2, current_workload: 1 });
    expect(u.stats).to.deep.include({ num_instances: '2', num_vm_active: '1', num_vm_building: '1', num_task_spawning: '1', num_proj_p1: '2', io_workload: '1' });
    const node = { vcpus: 4, memory_mb: 8192, local_gb: 100, cpu_allocation_ratio: 16, ram_allocation_ratio: 1.5, disk_allocation_ratio: 1 };
    expect(inventoryOf(node, s)).to.deep.equal({
      VCPU: { total: 4, reserved: 0, min_unit: 1, max_unit: 4, step_size: 1, allocation_ratio: 16 },
      MEMORY_MB: { total: 8192, reserved: 512, min_unit: 1, max_unit: 8192, step_size: 1, allocation_ratio: 1.5 },
      DISK_GB: { total: 100, reserved: 2, min_unit: 1, max_unit: 100, step_size: 1, allocation_ratio: 1 },
    });
  });

  it("keeps Nova's allocation-ratio rule: configured, else the node's own, else the initial one at creation", () => {
    expect(ratio(4, 16, 8, false)).to.equal(4);
    expect(ratio(null, 16, 8, false)).to.equal(8);
    expect(ratio(null, 16, 8, true)).to.equal(16);
    expect(ratio(null, 16, undefined, false)).to.equal(16);
    expect(novaHvType('QEMU')).to.equal('qemu');
    expect(novaHvType('TEST')).to.equal('test');
  });
});
