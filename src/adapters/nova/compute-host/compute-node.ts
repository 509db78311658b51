/**
 * This host's compute node in Nova's database (`compute_nodes`): what the
 * scheduler and `GET /os-hypervisors` read, and whose uuid names the
 * resource provider in Placement.
 *
 * Found again after a restart, never duplicated: the node of this host is
 * looked up by host (ComputeNodeList.get_all_by_host); one found is reused
 * whatever its node name (a host that ran Nova's libvirt driver named it
 * after libvirt's hostname), several are matched by name, none is created
 * (named `nodename`). Later refreshes write only the fields that changed,
 * as the resource tracker's _update does.
 */
import type { z } from 'zod';
import type { HostInventory } from '../../../intents';
import type { Logger } from '../../../log';
import { type ConductorClient, remoteClass } from '../conductor/conductor-client';
import { adminContext } from '../conductor/context';
import { NovaListPrimitive, primitive } from '../conductor/primitive';
import { hostFields, type PlacedInstance, type ResourceSettings, usageFields } from './resources';
import { ConfigError, InvariantError } from '../../../errors';

/** Values as the database holds them: a nested primitive's change list is bookkeeping, not a value. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) if (k !== 'nova_object.changes') out[k] = canonical((v as Record<string, unknown>)[k]);
  return out;
}
const same = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

export class ComputeNodeRecord {
  private data: Record<string, unknown> | undefined;

  constructor(
    private readonly conductor: ConductorClient,
    private readonly settings: ResourceSettings,
    private readonly nodename: string,
    private readonly log: Logger,
  ) {}

  get uuid(): string | undefined {
    return typeof this.data?.uuid === 'string' ? this.data.uuid : undefined;
  }

  /** The node name Nova knows this node by (hypervisor_hostname). */
  get name(): string {
    return typeof this.data?.hypervisor_hostname === 'string' ? this.data.hypervisor_hostname : this.nodename;
  }

  get fields(): Readonly<Record<string, unknown>> {
    return this.data ?? {};
  }

  /** Find this host's node or create it; then bring its figures up to date with the instances Nova placed on it. */
  async register(inv: HostInventory, placed: (nodename: string) => Promise<PlacedInstance[]>): Promise<'created' | 'reused'> {
    const found = await this.find();
    if (found) {
      this.data = found;
      await this.refresh(inv, await placed(this.name));
      this.log.info('compute node reused', { uuid: this.uuid, nodename: this.name });
      return 'reused';
    }
    const fields = { ...hostFields(inv, this.settings, this.nodename, {}, true), local_gb_used: 0, memory_mb_used: 0, vcpus_used: 0, stats: { failed_builds: '0' } };
    const r = await this.conductor.objectAction(adminContext(), primitive('ComputeNode', fields, Object.keys(fields)), 'create');
    this.data = r.data;
    await this.refresh(inv, await placed(this.name));
    this.log.info('compute node created', { uuid: this.uuid, nodename: this.name });
    return 'created';
  }

  /** Write what changed of the host's figures and usage; resolves true if anything was written. */
  async refresh(inv: HostInventory, instances: readonly PlacedInstance[]): Promise<boolean> {
    const current = this.data;
    if (!current) throw new InvariantError('compute node refreshed before it was registered');
    const want = { ...hostFields(inv, this.settings, this.name, current, false), ...usageFields(instances, inv, this.settings) };
    const changed = Object.keys(want).filter((k) => !same(current[k], want[k]));
    if (changed.length === 0) return false;
    this.log.debug('compute node changed', { fields: changed });
    const r = await this.conductor.objectAction(adminContext(), primitive('ComputeNode', { ...current, ...want }, changed), 'save');
    this.data = r.data;
    return true;
  }

  private async find(): Promise<Record<string, unknown> | undefined> {
    let found: z.output<typeof NovaListPrimitive>;
    try {
      found = await this.conductor.classActionAs(NovaListPrimitive, adminContext(), 'ComputeNodeList', 'get_all_by_host', [this.settings.host], { use_slave: false });
    } catch (err) {
      if (remoteClass(err) === 'ComputeHostNotFound') return undefined;
      throw err;
    }
    const list = found['nova_object.data'].objects.map((o) => o['nova_object.data']);
    if (list.length <= 1) return list[0];
    const named = list.find((n) => n.hypervisor_hostname === this.nodename);
    if (!named) throw new ConfigError(`host ${this.settings.host} has ${list.length} compute nodes in Nova and none is named ${this.nodename}: set nova_nodename in [hostwall]`);
    return named;
  }
}
