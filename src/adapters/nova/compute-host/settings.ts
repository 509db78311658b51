/**
 * The compute host's settings, named and defaulted as nova-compute's own
 * options are (nova.conf; Zed defaults), validated once. They come from the
 * same nova-compute.conf the host already has (../nova-conf.ts reads it).
 * Durations are read in seconds, as nova.conf writes them, and compiled once
 * to milliseconds (…Ms) by the parse: the code past it never converts.
 */
import { z } from 'zod';

const seconds = (def: number) => z.number().int().min(0).max(86_400).default(def);
const ratio = z.number().positive().max(1000).nullable().default(null);

const ComputeHostSettingsSchema = z.object({
  /** [DEFAULT] host: the service's host name (the oslo server of topic compute). */
  host: z.string().min(1),
  /** The compute node's name when a new one is created ([hostwall] nova_nodename; default: host). */
  nodename: z.string().min(1),
  /** [DEFAULT] my_ip: the compute node's host_ip. */
  myIp: z.string().min(1),
  /** [DEFAULT] report_interval: seconds between heartbeats. */
  reportIntervalS: z.number().int().min(1).max(3600).default(10),
  /** [DEFAULT] rpc_response_timeout: seconds one conductor call may take. */
  rpcResponseTimeoutS: z.number().int().min(1).max(3600).default(60),
  /** [conductor] topic. */
  conductorTopic: z.string().min(1).default('conductor'),
  /**
   * [hostwall] nova_write_retry: seconds a write to Nova's database is tried
   * again while the conductor does not answer (nova-compute gives up after
   * one timeout and leaves the instance to its periodic tasks).
   */
  writeRetryS: seconds(300),
  /** [DEFAULT] sync_power_state_interval: seconds (<= 0 turns the periodic sync off; changes still sync). */
  syncPowerStateIntervalS: z.number().int().min(-1).max(86_400).default(600),
  /** [DEFAULT] update_resources_interval: seconds (0 = the periodic default, 60). */
  updateResourcesIntervalS: z.number().int().min(-1).max(86_400).default(0),
  /** [DEFAULT] scheduler_instance_sync_interval: seconds. */
  schedulerInstanceSyncIntervalS: z.number().int().min(-1).max(86_400).default(120),
  cpuAllocationRatio: ratio,
  ramAllocationRatio: ratio,
  diskAllocationRatio: ratio,
  initialCpuAllocationRatio: z.number().positive().max(1000).default(16.0),
  initialRamAllocationRatio: z.number().positive().max(1000).default(1.5),
  initialDiskAllocationRatio: z.number().positive().max(1000).default(1.0),
  reservedHostMemoryMb: z.number().int().min(0).default(512),
  reservedHostDiskMb: z.number().int().min(0).default(0),
  reservedHostCpus: z.number().int().min(0).default(0),
});

/** The resource tracker's period when update_resources_interval is 0 (nova's default periodic spacing). */
const DEFAULT_UPDATE_RESOURCES_S = 60;

export const ComputeHostSettings = ComputeHostSettingsSchema.transform(({ reportIntervalS, rpcResponseTimeoutS, writeRetryS, syncPowerStateIntervalS, updateResourcesIntervalS, schedulerInstanceSyncIntervalS, ...rest }) => ({
  ...rest,
  reportIntervalMs: reportIntervalS * 1000,
  rpcResponseTimeoutMs: rpcResponseTimeoutS * 1000,
  writeRetryMs: writeRetryS * 1000,
  /** <= 0: the periodic task is off (nova.conf's meaning). */
  syncPowerStateIntervalMs: syncPowerStateIntervalS * 1000,
  updateResourcesIntervalMs: (updateResourcesIntervalS === 0 ? DEFAULT_UPDATE_RESOURCES_S : updateResourcesIntervalS) * 1000,
  schedulerInstanceSyncIntervalMs: schedulerInstanceSyncIntervalS * 1000,
}));
/** The compiled settings: durations in ms. */
export type ComputeHostSettings = z.output<typeof ComputeHostSettings>;
/** The settings as nova.conf writes them: durations in seconds. */
export type ComputeHostSettingsInput = z.input<typeof ComputeHostSettings>;
