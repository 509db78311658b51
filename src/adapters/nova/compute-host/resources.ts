/**
 * The compute node's fields as Nova's resource tracker computes them
 * (nova/compute/resource_tracker.py, Zed), from what the driver says of the
 * host and what Nova's database says is placed on it. Pure functions: the
 * compute node record decides when to write.
 *
 * The database's instances count, not the hypervisor's guests: Nova places by
 * what it promised (Placement allocations and these usage figures), and an
 * instance being built is counted before its guest exists.
 */
import { arch } from 'node:os';
import type { HostInventory } from '../../../intents';
import { primitive } from '../conductor/primitive';

export interface ResourceSettings {
  host: string;
  /** [DEFAULT] my_ip: the compute node's host_ip. */
  myIp: string;
  /** null: the initial_* ratio at creation, then whatever the node has (Nova's rule since Stein). */
  cpuAllocationRatio: number | null;
  ramAllocationRatio: number | null;
  diskAllocationRatio: number | null;
  initialCpuAllocationRatio: number;
  initialRamAllocationRatio: number;
  initialDiskAllocationRatio: number;
  reservedHostMemoryMb: number;
  reservedHostDiskMb: number;
  reservedHostCpus: number;
}

/** An instance as the usage counts it: the InstanceList fields that matter. */
export interface PlacedInstance {
  uuid: string;
  vm_state: string | null;
  task_state: string | null;
  os_type: string | null;
  project_id: string | null;
  vcpus: number;
  memory_mb: number;
  /** root_gb + ephemeral_gb of its flavor. */
  disk_gb: number;
}

/** Nova's architecture name for this machine (nova.objects.fields.Architecture). */
export function novaArch(a: string = arch()): string {
  const map: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', ppc64: 'ppc64le', s390x: 's390x' };
  return map[a] ?? a;
}

/** Nova's hv_type (nova.objects.fields.HVType) for libvirt's connection type. */
export function novaHvType(libvirtType: string): string {
  const t = libvirtType.toLowerCase();
  return t === 'test' ? 'test' : t === 'kvm' ? 'kvm' : t === 'qemu' ? 'qemu' : t;
}

/** A ratio as the node carries it: the configured one, else the initial one at creation (else keep the node's). */
export function ratio(configured: number | null, initial: number, current: unknown, creating: boolean): number {
  if (configured !== null && configured > 0) return configured;
  if (!creating && typeof current === 'number' && current > 0) return current;
  return initial;
}

/** The host's own figures: what the driver reports, shaped as ComputeNode fields. */
export function hostFields(inv: HostInventory, s: ResourceSettings, nodename: string, current: Readonly<Record<string, unknown>>, creating: boolean): Record<string, unknown> {
  const hvType = novaHvType(inv.hypervisor_type);
  return {
    host: s.host,
    hypervisor_hostname: nodename,
    host_ip: s.myIp,
    vcpus: inv.vcpus,
    memory_mb: inv.memory_mb,
    local_gb: inv.disk_gb,
    hypervisor_type: inv.hypervisor_type,
    hypervisor_version: inv.hypervisor_version,
    cpu_info: JSON.stringify({ arch: novaArch(), model: 'host', vendor: 'unknown', features: [], topology: { cores: 1, threads: 1, sockets: inv.vcpus } }),
    disk_available_least: inv.disk_gb,
    numa_topology: null,
    supported_hv_specs: [primitive('HVSpec', { arch: novaArch(), hv_type: hvType, vm_mode: 'hvm' })],
    cpu_allocation_ratio: ratio(s.cpuAllocationRatio, s.initialCpuAllocationRatio, current.cpu_allocation_ratio, creating),
    ram_allocation_ratio: ratio(s.ramAllocationRatio, s.initialRamAllocationRatio, current.ram_allocation_ratio, creating),
    disk_allocation_ratio: ratio(s.diskAllocationRatio, s.initialDiskAllocationRatio, current.disk_allocation_ratio, creating),
  };
}

/** Task states the resource tracker counts as I/O work (nova.compute.stats). */
const IO_TASKS = new Set(['resize_migrating', 'rebuilding', 'resize_prep', 'image_snapshot', 'image_backup', 'rescuing', 'unshelving', 'shelving', 'spawning']);

/** Usage of the instances placed here (the resource tracker's _update_usage and Stats). */
export function usageFields(instances: readonly PlacedInstance[], inv: HostInventory, s: ResourceSettings): Record<string, unknown> {
  const counted = instances.filter((i) => i.vm_state !== 'deleted' && i.vm_state !== 'shelved_offloaded');
  const sum = (f: (i: PlacedInstance) => number) => counted.reduce((n, i) => n + f(i), 0);
  const reservedDiskGb = Math.ceil(s.reservedHostDiskMb / 1024);
  const memoryUsed = s.reservedHostMemoryMb + sum((i) => i.memory_mb);
  const diskUsed = reservedDiskGb + sum((i) => i.disk_gb);
  const stats: Record<string, string> = { failed_builds: '0', num_instances: String(counted.length) };
  const bump = (key: string) => {
    stats[key] = String(Number(stats[key] ?? '0') + 1);
  };
  let io = 0;
  for (const i of counted) {
    bump(`num_vm_${i.vm_state ?? 'None'}`);
    bump(`num_task_${i.task_state ?? 'None'}`);
    bump(`num_os_type_${i.os_type ?? 'None'}`);
    bump(`num_proj_${i.project_id ?? 'None'}`);
    if (i.task_state && IO_TASKS.has(i.task_state)) io++;
  }
  stats.io_workload = String(io);
  return {
    vcpus_used: sum((i) => i.vcpus),
    memory_mb_used: memoryUsed,
    local_gb_used: diskUsed,
    free_ram_mb: inv.memory_mb - memoryUsed,
    free_disk_gb: inv.disk_gb - diskUsed,
    running_vms: counted.length,
    current_workload: counted.filter((i) => i.task_state !== null).length,
    stats,
    metrics: '[]',
    pci_device_pools: primitive('PciDevicePoolList', { objects: [] }, ['objects']),
  };
}

/** Placement's inventory of this node (nova's libvirt/fake driver update_provider_tree). */
export function inventoryOf(node: Readonly<Record<string, unknown>>, s: ResourceSettings): Record<string, { total: number; reserved: number; min_unit: number; max_unit: number; step_size: number; allocation_ratio: number }> {
  const n = (k: string) => (typeof node[k] === 'number' ? (node[k] as number) : 0);
  const inv = (total: number, reserved: number, allocationRatio: number) => ({ total, reserved, min_unit: 1, max_unit: Math.max(total, 1), step_size: 1, allocation_ratio: allocationRatio });
  return {
    VCPU: inv(n('vcpus'), s.reservedHostCpus, n('cpu_allocation_ratio')),
    MEMORY_MB: inv(n('memory_mb'), s.reservedHostMemoryMb, n('ram_allocation_ratio')),
    DISK_GB: inv(n('local_gb'), Math.ceil(s.reservedHostDiskMb / 1024), n('disk_allocation_ratio')),
  };
}
