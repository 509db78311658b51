/**
 * Compute hosts of the control plane, pluggable: the benchmark and the
 * compatibility tests drive whatever implements ComputeHost (Debian's
 * nova-compute with the fake driver here; hostwall is the other one).
 *
 * A host counts as registered when Nova and Placement both show it: its
 * nova-compute service is up, its resource provider has VCPU, MEMORY_MB and
 * DISK_GB inventory; then discover_hosts maps it into cell1, and only then
 * can the scheduler place a server there.
 */
import type { ControlPlane } from '../nova-control-plane';
import { deleteQueue } from './broker';
import { pollUntil } from './poll';
import type { InventoryMap } from './schemas';
import { runScript } from './script';

export interface ComputeHostHandle {
  readonly host: string;
  /** Stops the host's process(es); its service record stays (forgetComputeHost removes it). */
  stop(): Promise<void>;
}

export interface ComputeHost {
  /** Shown in the benchmark's table. */
  readonly name: string;
  /** Starts a compute host named `host` for the control plane; resolves once it runs (not registered yet). */
  start(host: string): Promise<ComputeHostHandle>;
}

const SCRIPT_TIMEOUT_MS = 60_000;

/**
 * Writes HOST's nova-compute.conf for this control plane (transport, state
 * and instances paths, report_interval, notifications, Placement, Neutron and
 * Glance; no database) and answers its path: what any ComputeHost reads.
 */
export async function writeComputeConf(host: string): Promise<string> {
  const { stdout } = await runScript(['compute-conf', host], SCRIPT_TIMEOUT_MS);
  return stdout.trim();
}

/**
 * Debian's nova-compute (nova.cmd.compute:main under /usr/bin/python3) with
 * `compute_driver = fake.SmallFakeDriver`, configured by
 * scripts/nova-cp/compute-conf.sh; stop() also removes its files.
 */
export const debianNovaCompute: ComputeHost = {
  name: 'nova-compute (Debian, fake driver)',
  async start(host) {
    await runScript(['compute-start', host], SCRIPT_TIMEOUT_MS);
    return {
      host,
      stop: async () => {
        await runScript(['compute-stop', host, '--purge'], SCRIPT_TIMEOUT_MS);
      },
    };
  },
};

export interface RegisteredHost {
  serviceId: string;
  providerUuid: string;
  inventories: InventoryMap;
}

const REQUIRED_CLASSES = ['VCPU', 'MEMORY_MB', 'DISK_GB'];

export async function awaitRegistration(plane: ControlPlane, host: string, timeoutMs = 90_000): Promise<RegisteredHost> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const service = await pollUntil(
    `nova-compute on ${host} to be up in os-services`,
    async () => {
      const [s] = await plane.nova.listServices({ host, binary: 'nova-compute' });
      return s?.state === 'up' ? { done: true, value: s } : { done: false, seen: s ? `state ${s.state}` : 'no service' };
    },
    { timeoutMs: left(), intervalMs: 250 },
  );
  const registered = await pollUntil(
    `the resource provider of ${host} to have inventory`,
    async () => {
      const uuid = await plane.placement.providerUuid(host);
      if (!uuid) return { done: false, seen: 'no resource provider' };
      const inventories = await plane.placement.inventories(uuid);
      const missing = REQUIRED_CLASSES.filter((c) => !(c in inventories));
      return missing.length ? { done: false, seen: `no inventory of ${missing.join(', ')}` } : { done: true, value: { providerUuid: uuid, inventories } };
    },
    { timeoutMs: left(), intervalMs: 250 },
  );
  await plane.discover();
  return { serviceId: service.id, ...registered };
}

/**
 * Removes what a stopped compute host leaves behind: its nova-compute service
 * (with its compute node and resource provider) and its topic queue.
 */
export async function forgetComputeHost(plane: ControlPlane, host: string): Promise<void> {
  for (const s of await plane.nova.listServices({ host, binary: 'nova-compute' })) await plane.nova.deleteService(s.id);
  await deleteQueue(plane.env.NOVA_CP_TRANSPORT_URL, `compute.${host}`);
}
