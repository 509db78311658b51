/**
 * The duties that make a hostwall worker the compute host of an unmodified
 * Nova (docs/nova-compute-host.md), as a worker companion (worker/companion.ts):
 *
 * start (before the worker consumes, as nova-compute registers before its
 * RPC server starts): wait for a conductor (ping), find or create the
 * service record and the compute node, make the resource provider, its
 * inventory and traits true in Placement, then keep the heartbeat and the
 * periodic tasks: resource usage (update_available_resource), power states
 * (_sync_power_states), the schedulers' instance lists
 * (_sync_scheduler_instance_info).
 *
 * While running: NovaRecords writes every Nova request's effect on its
 * instance through the conductor (inside the intent's lanes), and every
 * other change to an instance Nova tracks (the hypervisor's, an operator's
 * intent) reaches Nova through the power sync.
 *
 * A Placement that does not answer at start is not fatal (nova-compute
 * starts too): the resource provider is made at the next resource period.
 */
import type { InstanceStateCause } from '../../../dispatch/ports';
import type { Driver } from '../../../drivers/driver';
import type { InstanceView, IntentRequest } from '../../../host-state/instance-view';
import type { Logger } from '../../../log';
import { RpcClient } from '../../../oslo/rpc-client';
import type { Transport } from '../../../transport/transport';
import type { CompanionContext, CompanionStatus, WorkerCompanion } from '../../../worker/companion';
import { ConductorClient } from '../conductor/conductor-client';
import { adminContext } from '../conductor/context';
import type { ProviderSpec } from '../placement';
import { ComputeNodeRecord } from './compute-node';
import { hostRecords, placedInstances } from './host-instances';
import { type AllocationStore, NovaRecords } from './nova-records';
import { persist } from './persist';
import { PowerSync } from './power-sync';
import { inventoryOf } from './resources';
import { SchedulerClient } from './scheduler-client';
import { ServiceRecord } from './service-record';
import type { ComputeHostSettings } from './settings';

/** The traits of what hostwall's libvirt driver does for Nova (update_provider_tree's COMPUTE_* set). */
export const HOSTWALL_TRAITS: readonly string[] = [
  'COMPUTE_NODE', 'COMPUTE_NET_ATTACH_INTERFACE', 'COMPUTE_VOLUME_EXTEND', 'COMPUTE_IMAGE_TYPE_RAW',
  'COMPUTE_IMAGE_TYPE_QCOW2', 'COMPUTE_NET_VIF_MODEL_VIRTIO', 'COMPUTE_STORAGE_BUS_VIRTIO',
];

/** The resource provider of this compute node in Placement (the Placement client). */
export interface ProviderStore extends AllocationStore {
  syncProvider(spec: ProviderSpec, requestId?: string): Promise<unknown>;
}

export interface ComputeHostParts {
  settings: ComputeHostSettings;
  /** A connection of its own to the control exchange (not the worker's: it outlives the worker's drain). */
  transport: Transport;
  controlExchange: string;
  placement: ProviderStore;
  log: Logger;
}

/** Usage changes (a build, a delete) are folded for this long before the node is saved. */
const USAGE_DEBOUNCE_MS = 500;
/**
 * Heartbeats that may be missed before the host counts as not ready: Nova's
 * service_down_time (60 s) is six of its report_interval (10 s).
 */
const MISSED_BEATS = 6;

export class ComputeHost implements WorkerCompanion {
  readonly name = 'nova compute host';
  readonly records: NovaRecords;
  private readonly conductor: ConductorClient;
  private readonly scheduler: SchedulerClient;
  private readonly service: ServiceRecord;
  private readonly node: ComputeNodeRecord;
  private powerSync: PowerSync | undefined;
  private ctx: CompanionContext | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private usageTimer: NodeJS.Timeout | undefined;
  private providerSynced = false;
  private registered = false;
  private stopped = false;

  constructor(private readonly parts: ComputeHostParts) {
    const { settings: s, transport, log } = parts;
    const rpc = new RpcClient(transport, { controlExchange: parts.controlExchange });
    this.conductor = new ConductorClient(rpc, { topic: s.conductorTopic, timeoutMs: s.rpcResponseTimeoutMs, pingTimeoutMs: 10_000 }, log);
    this.scheduler = new SchedulerClient(rpc, transport, s.host);
    this.service = new ServiceRecord(this.conductor, s.host, log);
    this.node = new ComputeNodeRecord(this.conductor, s, s.nodename, log);
    this.records = new NovaRecords({
      conductor: this.conductor, scheduler: this.scheduler, allocations: parts.placement, host: s.host,
      node: () => this.node.name, deadlineMs: s.writeRetryMs, log, stopped: () => this.stopped,
      resourcesChanged: () => this.usageChanged(),
    });
  }

  async start(ctx: CompanionContext): Promise<void> {
    const { settings: s, transport, log } = this.parts;
    this.ctx = ctx;
    this.powerSync = new PowerSync({ conductor: this.conductor, book: ctx.book, host: s.host, log, deadlineMs: s.writeRetryMs, stopped: () => this.stopped || ctx.stopping() });
    await transport.start();
    const ready = await this.conductor.waitUntilReady(() => this.stopped || ctx.stopping());
    if (!ready) return;
    // Each step finds before it creates, so one whose reply was lost is found on the retry, not made twice.
    const retry = { deadlineMs: s.writeRetryMs, stopped: () => this.stopped || ctx.stopping(), onRetry: (err: unknown, attempt: number) => log.warn('registering with Nova: nova-conductor did not answer, trying again', { attempt, error: String(err) }) };
    const service = await persist(() => this.service.register(), retry);
    const inventory = await ctx.driver.inventory();
    const node = await persist(() => this.node.register(inventory, (name) => placedInstances(this.conductor, adminContext(), s.host, name)), retry);
    await this.syncProvider();
    this.service.startHeartbeat(s.reportIntervalMs);
    this.every(s.updateResourcesIntervalMs, () => this.updateResources());
    this.every(s.syncPowerStateIntervalMs, () => this.powerSync?.syncAll());
    this.every(s.schedulerInstanceSyncIntervalMs, () => this.syncSchedulers());
    // _init_host: what changed while no compute service ran reaches Nova now.
    void this.powerSync.syncAll();
    this.registered = true;
    log.info('registered with Nova as its compute host', {
      host: s.host, service, compute_node: node, node_uuid: this.node.uuid, nodename: this.node.name, resource_provider: this.providerSynced,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    if (this.usageTimer) clearTimeout(this.usageTimer);
    this.service.stopHeartbeat();
    this.powerSync?.stop();
    await this.parts.transport.close();
  }

  /**
   * Ready once registered with Nova and while its heartbeats are recorded:
   * the last one no older than six report intervals (past Nova's
   * service_down_time with its defaults, the API shows the host down).
   */
  status(now = Date.now()): CompanionStatus {
    if (this.stopped) return { ready: false, detail: 'stopped' };
    if (!this.registered) return { ready: false, detail: 'not registered with Nova yet (waiting for nova-conductor)' };
    const last = this.service.lastRecordedAt;
    const limitMs = MISSED_BEATS * this.parts.settings.reportIntervalMs;
    const ageS = last === undefined ? undefined : Math.round((now - last) / 1000);
    if (last === undefined || now - last > limitMs) return { ready: false, detail: `no heartbeat recorded by nova-conductor for ${ageS ?? '?'} s (limit ${limitMs / 1000} s)` };
    return { ready: true, detail: `registered (service ${this.service.id ?? '?'}), last heartbeat ${ageS} s ago` };
  }

  onInstanceState(facts: InstanceView, req: IntentRequest, cause: InstanceStateCause): void {
    // A Nova request's hooks already wrote its change; anything else may be news to Nova.
    if (cause === 'intent' && this.records.wroteStateOf(req.intent_id)) return;
    this.powerSync?.changed(facts.uuid);
  }

  private every(periodMs: number, task: () => Promise<void> | undefined): void {
    if (periodMs <= 0) return;
    const t = setInterval(() => void task(), periodMs);
    t.unref();
    this.timers.push(t);
  }

  private usageChanged(): void {
    if (this.usageTimer) clearTimeout(this.usageTimer);
    this.usageTimer = setTimeout(() => void this.updateResources(), USAGE_DEBOUNCE_MS);
  }

  /** update_available_resource: the node's figures and usage, then Placement. Never rejects. */
  private async updateResources(): Promise<void> {
    const { settings: s, log } = this.parts;
    const driver: Driver | undefined = this.ctx?.driver;
    if (!driver || this.stopped) return;
    try {
      const inv = await driver.inventory();
      await this.node.refresh(inv, await placedInstances(this.conductor, adminContext(), s.host, this.node.name));
    } catch (err) {
      log.warn('compute node update failed (tried again next period)', { error: String(err) });
      return;
    }
    await this.syncProvider();
  }

  /** Placement holds this node's provider, inventory and traits (the client writes only what differs). Never rejects. */
  private async syncProvider(): Promise<void> {
    const { settings: s, placement, log } = this.parts;
    const uuid = this.node.uuid;
    if (!uuid) return;
    try {
      await placement.syncProvider({ uuid, name: this.node.name, inventories: inventoryOf(this.node.fields, s), traits: [...HOSTWALL_TRAITS] });
      this.providerSynced = true;
    } catch (err) {
      log.warn('resource provider not synced with Placement (tried again next period)', { uuid, error: String(err) });
    }
  }

  private async syncSchedulers(): Promise<void> {
    const ctx = adminContext();
    try {
      const records = await hostRecords(this.conductor, ctx, this.parts.settings.host);
      await this.scheduler.syncInstanceInfo(ctx, records.map((r) => r.uuid));
    } catch (err) {
      this.parts.log.warn('sync_instance_info to the schedulers failed', { error: String(err) });
    }
  }
}
