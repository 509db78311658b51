/**
 * The control-plane harness, proven with the reference compute host: a real
 * Debian Nova Zed control plane (scripts/nova-control-plane.sh) and Debian's
 * own nova-compute with the fake driver. It registers, discover_hosts maps
 * it, and a server booted through the Nova API onto it goes ACTIVE, stops,
 * starts, reboots, pauses, suspends, and is deleted with its Placement
 * allocation. The same steps are what hostwall must pass in nova-compute's
 * place (issue 12).
 *
 * Skips, saying why, only when the Debian packages cannot be installed.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  awaitRegistration,
  type ComputeHostHandle,
  type ControlPlane,
  controlPlaneOrSkip,
  debianNovaCompute,
  forgetComputeHost,
  type RegisteredHost,
} from '../support/nova-control-plane';

/** Generous for a loaded 2-core machine; the reference host takes about a second. */
const STEP = { timeoutMs: 60_000, intervalMs: 200 };
const POWER_RUNNING = 1;
const POWER_SHUTDOWN = 4;

describe("compat: a real Nova control plane drives Debian's nova-compute (fake driver)", function () {
  this.timeout(120_000);
  const host = `hwcp-nc-${randomBytes(4).toString('hex')}`;
  let plane: ControlPlane;
  let compute: ComputeHostHandle | undefined;
  let registered: RegisteredHost;
  let serverId: string | undefined;

  before(async function () {
    plane = await controlPlaneOrSkip(this);
    compute = await debianNovaCompute.start(host);
  });

  after(async function () {
    this.timeout(60_000);
    if (!plane) return;
    if (serverId) await plane.nova.deleteServer(serverId).catch(() => undefined);
    await compute?.stop();
    await forgetComputeHost(plane, host);
  });

  it('registers: its service is up, its resource provider has inventory, discover_hosts maps it', async () => {
    registered = await awaitRegistration(plane, host);
    const [service] = await plane.nova.listServices({ host, binary: 'nova-compute' });
    expect(service?.state).to.equal('up');
    expect(service?.status).to.equal('enabled');
    expect(registered.inventories.VCPU?.total).to.be.greaterThan(0);
    expect(registered.inventories.MEMORY_MB?.total).to.be.greaterThan(0);
    const hypervisor = (await plane.nova.listHypervisors()).find((h) => h.service.host === host);
    expect(hypervisor, 'os-hypervisors/detail lists the host').to.not.equal(undefined);
    // The resource provider is the compute node: same uuid.
    expect(hypervisor?.id).to.equal(registered.providerUuid);
    expect(hypervisor?.state).to.equal('up');
  });

  it('boots a server onto the host: ACTIVE, running, its allocation against the host in Placement', async () => {
    serverId = await plane.nova.bootServer({ name: `hwcp-${host}`, imageRef: plane.env.NOVA_CP_IMAGE_ID, flavorRef: plane.env.NOVA_CP_FLAVOR_ID, host });
    const server = await plane.nova.waitForStatus(serverId, 'ACTIVE', STEP);
    expect(server['OS-EXT-STS:vm_state']).to.equal('active');
    expect(server['OS-EXT-STS:power_state']).to.equal(POWER_RUNNING);
    expect(server['OS-EXT-SRV-ATTR:host']).to.equal(host);
    const alloc = await plane.placement.allocations(serverId);
    expect(alloc.allocations[registered.providerUuid]?.resources).to.deep.equal({ VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });
  });

  it('stops it: SHUTOFF, powered off', async () => {
    const id = required(serverId);
    await plane.nova.act(id, 'os-stop');
    const server = await plane.nova.waitForStatus(id, 'SHUTOFF', STEP);
    expect(server['OS-EXT-STS:vm_state']).to.equal('stopped');
    expect(server['OS-EXT-STS:power_state']).to.equal(POWER_SHUTDOWN);
  });

  it('starts it: ACTIVE again', async () => {
    const id = required(serverId);
    await plane.nova.act(id, 'os-start');
    const server = await plane.nova.waitForStatus(id, 'ACTIVE', STEP);
    expect(server['OS-EXT-STS:power_state']).to.equal(POWER_RUNNING);
  });

  it('reboots it soft and hard, pauses and unpauses, suspends and resumes it', async () => {
    const id = required(serverId);
    // vm_state, not power_state: the fake driver's pause and suspend leave
    // its guest "running" (nova/virt/fake.py), a real hypervisor would not.
    const steps = [
      ['reboot-soft', 'ACTIVE', 'active'],
      ['reboot-hard', 'ACTIVE', 'active'],
      ['pause', 'PAUSED', 'paused'],
      ['unpause', 'ACTIVE', 'active'],
      ['suspend', 'SUSPENDED', 'suspended'],
      ['resume', 'ACTIVE', 'active'],
    ] as const;
    for (const [action, status, vmState] of steps) {
      await plane.nova.act(id, action);
      const server = await plane.nova.waitForStatus(id, status, STEP);
      expect(server['OS-EXT-STS:vm_state'], action).to.equal(vmState);
    }
  });

  it('deletes it: 404, and its Placement allocation is gone', async () => {
    const id = required(serverId);
    await plane.nova.deleteServer(id);
    await plane.nova.waitGone(id, STEP);
    serverId = undefined;
    expect((await plane.placement.allocations(id)).allocations).to.deep.equal({});
  });
});

function required(id: string | undefined): string {
  if (!id) throw new Error('no server: the boot step failed');
  return id;
}
