/**
 * Issue 12's test of adoption: a real Debian Nova Zed control plane
 * (scripts/nova-control-plane.sh: nova-api, conductor, scheduler, Placement,
 * Glance, on MariaDB) with hostwall in nova-compute's place, started with
 * the host's own nova-compute.conf, driven through the Nova HTTP API only.
 *
 * The guests live in libvirtd's test driver (test+unix:///default), whose
 * state lives as long as one connection stays open: the test holds one (the
 * anchor), so the guests outlive a killed worker, and changes them through
 * it behind Nova's back, as an operator's virsh or a crash would.
 *
 * Skips, saying why, only when Debian's packages cannot be installed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { expect } from 'chai';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import {
  awaitRegistration,
  type ControlPlane,
  controlPlaneOrSkip,
  forgetComputeHost,
  type RegisteredHost,
} from '../support/nova-control-plane';
import { type HostwallHostHandle, hostwallComputeHost } from '../support/nova-cp/hostwall-host';
import { runScript } from '../support/nova-cp/script';
import { runCli } from '../support/worker-process';

const STEP = { timeoutMs: 60_000, intervalMs: 100 };
const LIBVIRT = 'test+unix:///default';
const POWER = { running: 1, paused: 3, shutdown: 4, suspended: 7 } as const;

/** The conductor's process group (setsid'd by the script; its workers are in it). */
function conductorGroup(plane: ControlPlane): number {
  const pid = Number(readFileSync(join(plane.env.NOVA_CP_DIR, 'run', 'conductor.pid'), 'utf8').split(' ')[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new Error('no conductor pid');
  return pid;
}

/** Resolves with the first `<host>.intent.accepted` event after it is armed (to act at the moment an intent starts). */
async function nextAccepted(plane: ControlPlane, host: string): Promise<{ arrived: Promise<void>; close: () => Promise<void> }> {
  const conn = await amqp.connect(plane.env.NOVA_CP_TRANSPORT_URL.replace(/^rabbit:\/\//, 'amqp://'));
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
  await ch.bindQueue(queue, 'hostwall.events', `${host}.intent.accepted`);
  const arrived = new Promise<void>((resolve) => {
    void ch.consume(queue, () => resolve(), { noAck: true });
  });
  return { arrived, close: () => conn.close().catch(() => undefined) };
}

describe('compat: an unmodified Nova control plane with hostwall as its compute host', function () {
  this.timeout(180_000);
  const host = `hwcp-hw-${randomBytes(4).toString('hex')}`;
  const hostwall = hostwallComputeHost([
    '[DEFAULT]',
    // A conductor that does not answer is noticed (and the call tried again) sooner than Nova's 60 s.
    'rpc_response_timeout = 8',
    '[hostwall]',
    `libvirt_uri = ${LIBVIRT}`,
    'watch_stop_delay = 1',
    'watch_reconcile = 2',
  ].join('\n'));
  let plane: ControlPlane;
  let anchor: Driver | undefined;
  let compute: HostwallHostHandle | undefined;
  let registered: RegisteredHost;
  let serverId: string | undefined;
  const servers: string[] = [];

  const boot = async (name: string): Promise<string> => {
    const id = await plane.nova.bootServer({ name, imageRef: plane.env.NOVA_CP_IMAGE_ID, flavorRef: plane.env.NOVA_CP_FLAVOR_ID, host });
    servers.push(id);
    return id;
  };
  const act = async (id: string, action: Parameters<ControlPlane['nova']['act']>[1], status: string, power: number) => {
    await plane.nova.act(id, action);
    const s = await plane.nova.waitForStatus(id, status, STEP);
    expect(s['OS-EXT-STS:task_state'], `${action} leaves no task`).to.equal(null);
    expect(s['OS-EXT-STS:power_state'], `${action} power state`).to.equal(power);
    return s;
  };

  before(async function () {
    plane = await controlPlaneOrSkip(this);
    anchor = await openLibvirtDriver({ uri: LIBVIRT, connections: 1 });
    compute = await hostwall.startHost(host);
  });

  after(async function () {
    this.timeout(120_000);
    if (!plane) return;
    for (const id of servers) await plane.nova.deleteServer(id).catch(() => undefined);
    for (const id of servers) await plane.nova.waitGone(id, STEP).catch(() => undefined);
    await compute?.stop();
    await forgetComputeHost(plane, host);
    await anchor?.close();
  });

  it('registers from nova-compute.conf: its service is up, its compute node is the resource provider, with inventory', async () => {
    registered = await awaitRegistration(plane, host);
    const [service] = await plane.nova.listServices({ host, binary: 'nova-compute' });
    expect(service?.state).to.equal('up');
    const hv = await plane.nova.getHypervisor(registered.providerUuid);
    expect(hv.service.host).to.equal(host);
    expect(hv.state).to.equal('up');
    // os-hypervisors at 2.88 asks the compute host for its uptime (get_host_uptime).
    expect(hv.uptime).to.match(/up .*load average/);
    expect(registered.inventories.MEMORY_MB?.reserved).to.equal(512);
  });

  it('boots a server onto hostwall: ACTIVE, running, its allocation on the host, the action event recorded', async () => {
    serverId = await boot(`hw-${host}`);
    const s = await plane.nova.waitForStatus(serverId, 'ACTIVE', STEP);
    expect(s['OS-EXT-SRV-ATTR:host']).to.equal(host);
    expect(s['OS-EXT-STS:power_state']).to.equal(POWER.running);
    const alloc = await plane.placement.allocations(serverId);
    expect(Object.keys(alloc.allocations)).to.deep.equal([registered.providerUuid]);
    const [create] = await plane.nova.instanceActions(serverId);
    expect(create?.events?.map((e) => [e.event, e.result, e.host])).to.deep.equal([['compute__do_build_and_run_instance', 'Success', host]]);
  });

  it('stops, starts, reboots soft and hard, pauses, unpauses, suspends and resumes it', async () => {
    const id = serverId ?? '';
    await act(id, 'os-stop', 'SHUTOFF', POWER.shutdown);
    await act(id, 'os-start', 'ACTIVE', POWER.running);
    await act(id, 'reboot-soft', 'ACTIVE', POWER.running);
    await act(id, 'reboot-hard', 'ACTIVE', POWER.running);
    await act(id, 'pause', 'PAUSED', POWER.paused);
    await act(id, 'unpause', 'ACTIVE', POWER.running);
    await act(id, 'suspend', 'SUSPENDED', POWER.suspended);
    await act(id, 'resume', 'ACTIVE', POWER.running);
    const events = (await plane.nova.instanceActions(id)).flatMap((a) => a.events ?? []);
    expect(events.every((e) => e.result === 'Success'), JSON.stringify(events)).to.equal(true);
  });

  it('a guest shut off behind Nova\'s back shows SHUTOFF through the API', async () => {
    const id = serverId ?? '';
    const guest = await anchor?.getState(id);
    expect(guest?.name, 'the guest is in libvirtd, named by Nova').to.match(/^instance-[0-9a-f]{8}$/);
    await anchor?.powerOff(id, { clean: false, timeoutS: 0 });
    const s = await plane.nova.waitForStatus(id, 'SHUTOFF', STEP);
    expect(s['OS-EXT-STS:power_state']).to.equal(POWER.shutdown);
  });

  it("an operator's intent through the wall reaches Nova's database too", async () => {
    const id = serverId ?? '';
    const r = await runCli(['call', 'instance.power_on', '--host', host, '--amqp-url', plane.env.NOVA_CP_TRANSPORT_URL, '--args', JSON.stringify({ instance_uuid: id })], { AMQP_URL: '' });
    expect(r.code, r.stderr).to.equal(0);
    const s = await plane.nova.waitForStatus(id, 'ACTIVE', STEP);
    expect(s['OS-EXT-STS:power_state']).to.equal(POWER.running);
  });

  it('a request hostwall does not serve (rebuild) is refused without leaving the server busy', async () => {
    const id = serverId ?? '';
    await plane.nova.rebuild(id, plane.env.NOVA_CP_IMAGE_ID);
    // The API sets task_state rebuilding; hostwall's refusal clears it (and records a fault).
    const s = await pollTask(plane, id, null);
    expect(s.status).to.equal('ACTIVE');
  });

  it('a conductor frozen just as a build starts: the build waits for it and ends ACTIVE', async () => {
    const pgid = conductorGroup(plane);
    const accepted = await nextAccepted(plane, host);
    try {
      const id = await boot(`hw-slow-${host}`);
      await accepted.arrived;
      process.kill(-pgid, 'SIGSTOP');
      // Longer than hostwall's rpc_response_timeout (8 s): the first save times out and is tried again.
      await new Promise((r) => setTimeout(r, 12_000));
      process.kill(-pgid, 'SIGCONT');
      const s = await plane.nova.waitForStatus(id, 'ACTIVE', STEP);
      expect(s['OS-EXT-STS:task_state']).to.equal(null);
      // It went through hostwall's retry, not around it.
      expect(compute?.worker.logs.some((l) => l.includes('not answered: trying again')), 'a save was tried again').to.equal(true);
    } finally {
      try {
        process.kill(-pgid, 'SIGCONT');
      } catch {
        // already running
      }
      await accepted.close();
    }
  });

  it('a conductor killed just as a build starts and started again: the build ends ACTIVE, not stuck in BUILD', async () => {
    const accepted = await nextAccepted(plane, host);
    try {
      const id = await boot(`hw-restart-${host}`);
      await accepted.arrived;
      process.kill(-conductorGroup(plane), 'SIGKILL');
      await runScript(['up'], 240_000);
      const s = await plane.nova.waitForStatus(id, 'ACTIVE', { timeoutMs: 120_000, intervalMs: 250 });
      expect(s['OS-EXT-STS:task_state']).to.equal(null);
    } finally {
      await accepted.close();
    }
  });

  it('killed, the host goes down; started again, it is up with nothing duplicated and its servers kept', async () => {
    if (!compute) throw new Error('no compute host');
    await compute.kill();
    await pollService(plane, host, 'down');
    compute = await hostwall.restart(compute);
    await pollService(plane, host, 'up');
    expect(await plane.nova.listServices({ host, binary: 'nova-compute' })).to.have.length(1);
    expect((await plane.nova.listHypervisors()).filter((h) => h.service.host === host)).to.have.length(1);
    expect(await plane.placement.providerUuid(host)).to.equal(registered.providerUuid);
    const s = await plane.nova.waitForStatus(serverId ?? '', 'ACTIVE', STEP);
    expect(s['OS-EXT-STS:power_state']).to.equal(POWER.running);
  });

  it('deletes it: 404 through the API, its Placement allocation gone', async () => {
    for (const id of servers) await plane.nova.deleteServer(id);
    for (const id of servers) {
      await plane.nova.waitGone(id, STEP);
      await plane.placement.waitAllocationsGone(id, STEP);
    }
    servers.length = 0;
  });
});

async function pollService(plane: ControlPlane, host: string, state: 'up' | 'down'): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const [s] = await plane.nova.listServices({ host, binary: 'nova-compute' });
    if (s?.state === state) return;
    if (Date.now() > deadline) throw new Error(`nova-compute on ${host} not ${state} in 90 s (is ${s?.state ?? 'absent'})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function pollTask(plane: ControlPlane, id: string, task: string | null) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await plane.nova.getServer(id);
    if (s && s['OS-EXT-STS:task_state'] === task) return s;
    if (Date.now() > deadline) throw new Error(`server ${id} task_state not ${task} in 60 s (is ${s?.['OS-EXT-STS:task_state']})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
