/**
 * The instances Nova's database places on this host, read through the
 * conductor as nova-compute's periodic tasks read them
 * (InstanceList.get_by_host / get_by_host_and_node), in the two shapes the
 * compute host needs: usage for the resource tracker, records for the power
 * sync.
 */
import { z } from 'zod';
import type { ConductorClient } from '../conductor/conductor-client';
import type { NovaContext } from '../conductor/context';
import { NovaListPrimitive } from '../conductor/primitive';
import { InstanceRecord } from './instance-record';
import type { PlacedInstance } from './resources';

const size = z.number().int().nonnegative().catch(0);
const nullableString = z.string().nullable().catch(null);

/** The fields of an Instance primitive the usage counts (loose: the rest passes unread). */
const UsageFields = z.looseObject({
  uuid: z.string(),
  vm_state: nullableString,
  task_state: nullableString,
  os_type: nullableString,
  project_id: nullableString,
  flavor: z
    .looseObject({ 'nova_object.data': z.looseObject({ vcpus: size, memory_mb: size, root_gb: size, ephemeral_gb: size }) })
    .nullable()
    .optional(),
});

/** Instances placed on this host and node, with their flavors. */
export async function placedInstances(conductor: ConductorClient, context: NovaContext, host: string, node: string): Promise<PlacedInstance[]> {
  const list = await conductor.classActionAs(NovaListPrimitive, context, 'InstanceList', 'get_by_host_and_node', [host, node], { expected_attrs: ['flavor'] });
  return list['nova_object.data'].objects.flatMap((o) => {
    const d = UsageFields.safeParse(o['nova_object.data']);
    if (!d.success) return [];
    const fl = d.data.flavor?.['nova_object.data'];
    return [{
      uuid: d.data.uuid, vm_state: d.data.vm_state, task_state: d.data.task_state, os_type: d.data.os_type, project_id: d.data.project_id,
      vcpus: fl?.vcpus ?? 0, memory_mb: fl?.memory_mb ?? 0, disk_gb: (fl?.root_gb ?? 0) + (fl?.ephemeral_gb ?? 0),
    }];
  });
}

/** Instances on this host (any node), as records the power sync may save. */
export async function hostRecords(conductor: ConductorClient, context: NovaContext, host: string): Promise<InstanceRecord[]> {
  const list = await conductor.classActionAs(NovaListPrimitive, context, 'InstanceList', 'get_by_host', [host], { expected_attrs: [], use_slave: false });
  return list['nova_object.data'].objects.flatMap((o) => {
    const r = InstanceRecord.from(o);
    return r ? [r] : [];
  });
}
