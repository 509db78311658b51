/**
 * The parts of Nova's and Placement's replies the harness reads (Nova Zed
 * 26.2.2 at compute microversion 2.88, Placement 8.0.0). Unknown keys are
 * dropped, missing or mistyped ones are a BAD_REPLY.
 */
import { z } from 'zod';

export const ServerCreated = z.object({ server: z.object({ id: z.string() }) });

export const ServerFault = z.object({ code: z.number(), message: z.string(), details: z.string().optional() });

export const Server = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  'OS-EXT-STS:vm_state': z.string(),
  'OS-EXT-STS:task_state': z.string().nullable(),
  /** 0 nostate, 1 running, 3 paused, 4 shutdown, 6 crashed, 7 suspended. */
  'OS-EXT-STS:power_state': z.number(),
  'OS-EXT-SRV-ATTR:host': z.string().nullable().optional(),
  fault: ServerFault.optional(),
});
export type Server = z.output<typeof Server>;
export const ServerReply = z.object({ server: Server });

export const Service = z.object({
  /** A uuid from microversion 2.53 on. */
  id: z.string(),
  binary: z.string(),
  host: z.string(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  updated_at: z.string().nullable(),
});
export type Service = z.output<typeof Service>;
export const ServiceList = z.object({ services: z.array(Service) });

/** GET /servers/{id}/os-instance-actions/{request_id}: the action and its events (admins see tracebacks). */
export const InstanceAction = z.object({
  action: z.string(),
  request_id: z.string(),
  events: z.array(z.object({ event: z.string(), result: z.string().nullable(), host: z.string().nullable().optional(), traceback: z.string().nullable().optional() })).optional(),
});
export type InstanceAction = z.output<typeof InstanceAction>;
export const InstanceActionList = z.object({ instanceActions: z.array(InstanceAction) });
export const InstanceActionReply = z.object({ instanceAction: InstanceAction });

export const Hypervisor = z.object({
  id: z.string(),
  hypervisor_hostname: z.string(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  hypervisor_type: z.string().optional(),
  /** The host's `uptime` line (a get_host_uptime call to the compute host, 2.88); null when it cannot tell. */
  uptime: z.string().nullable().optional(),
  service: z.object({ id: z.string(), host: z.string() }),
});
export type Hypervisor = z.output<typeof Hypervisor>;
export const HypervisorList = z.object({ hypervisors: z.array(Hypervisor) });
export const HypervisorReply = z.object({ hypervisor: Hypervisor });

/** GET /allocations/{consumer}: an empty map once the consumer has none. */
export const ConsumerAllocations = z.object({
  allocations: z.record(z.string(), z.object({ resources: z.record(z.string(), z.number()) })),
});
export type ConsumerAllocations = z.output<typeof ConsumerAllocations>;

export const ResourceProviderList = z.object({
  resource_providers: z.array(z.object({ uuid: z.string(), name: z.string(), generation: z.number() })),
});

export const Inventories = z.object({
  inventories: z.record(z.string(), z.object({ total: z.number(), reserved: z.number(), allocation_ratio: z.number() })),
});
/** Resource class → its inventory. */
export type InventoryMap = z.output<typeof Inventories>['inventories'];

/** What `nova-control-plane.sh env` prints. */
export const ControlPlaneEnv = z.object({
  NOVA_CP_DIR: z.string().startsWith('/'),
  NOVA_API_URL: z.url(),
  PLACEMENT_URL: z.url(),
  GLANCE_URL: z.url(),
  NEUTRON_URL: z.url(),
  NOVA_CP_TRANSPORT_URL: z.string().startsWith('rabbit://'),
  NOVA_CP_IMAGE_ID: z.string().min(1),
  NOVA_CP_FLAVOR_ID: z.string().min(1),
  NOVA_CP_COMPUTE_CONF_GEN: z.string().startsWith('/'),
  NOVA_CP_SCRIPT: z.string().startsWith('/'),
  NOVA_CP_VHOST: z.string().min(1),
  NOVA_CP_DB_PREFIX: z.string(),
  NOVA_CP_SERVICE_DOWN_TIME: z.coerce.number().int().positive(),
  NOVA_CP_REPORT_INTERVAL: z.coerce.number().int().positive(),
  NOVA_CP_RPC_TIMEOUT: z.coerce.number().int().positive(),
});
export type ControlPlaneEnv = z.output<typeof ControlPlaneEnv>;
