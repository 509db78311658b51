/**
 * The order-sensitive batch both fault suites (test/fault, test/cluster)
 * send, and how its effects are checked on the hypervisor's own state.
 *
 * Per instance, `perInstance` intents plug distinct ports and unplug some of
 * them again (plug 0, 1, 2, 3, unplug 2, plug 5, ...):
 * - applied out of order, an unplug would meet a port not yet plugged and
 *   fail (DEVICE_NOT_FOUND), or the interfaces' order in the definition
 *   (libvirt appends each new one) would differ from the plan;
 * - a plug applied again after its unplug would leave a port that must be
 *   gone; a lost intent would leave one missing;
 * - every intent has exactly one outcome that is not flagged as published
 *   again (at most one, and at least one outcome in all), all agreeing.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Driver } from '../../../src/drivers/driver';
import type { HostwallEvent } from '../../../src/events/schemas';
import type { EventLog } from './bus';
import { inactiveXml } from './daemons';

export interface Step {
  id: string;
  kind: 'port.plug' | 'port.unplug';
  args: Record<string, unknown>;
}

const hex = (n: number) => n.toString(16).padStart(2, '0');
const mac = (inst: number, k: number) => `fa:16:3e:${hex(inst)}:${hex(k)}:01`;
/** Every fifth step unplugs the port plugged two steps before. */
const isUnplug = (k: number) => k % 5 === 4;

/** `perInstance` steps for each instance, interleaved across instances. */
export function portPlan(uuids: string[], perInstance: number): Step[] {
  const steps: Step[] = [];
  for (let k = 0; k < perInstance; k++) {
    uuids.forEach((uuid, inst) => {
      const id = randomUUID().replace(/-/g, '');
      if (isUnplug(k)) steps.push({ id, kind: 'port.unplug', args: { instance_uuid: uuid, port_id: `p-${inst}-${k - 2}` } });
      else steps.push({ id, kind: 'port.plug', args: { instance_uuid: uuid, port: { port_id: `p-${inst}-${k}`, mac_address: mac(inst, k), vif_type: 'bridge', network: { bridge: 'br-int' } } } });
    });
  }
  return steps;
}

export function expectedMacs(inst: number, perInstance: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < perInstance; k++) if (!isUnplug(k) && !isUnplug(k + 2)) out.push(mac(inst, k));
  return out;
}

export const macsOf = (xml: string) => [...xml.matchAll(/<interface\b[\s\S]*?<mac address='([0-9a-f:]+)'/g)].map((m) => m[1]);
export const flagged = (e: HostwallEvent) => 'redelivered' in e || 'replayed' in e;

/**
 * Every step applied once and in order: one unflagged successful outcome
 * each, no rejection, each guest's ports exactly the plan's (read from
 * libvirtd, not from the events), every guest still running.
 */
export async function expectAppliedOnceInOrder(log: EventLog, steps: Step[], uuids: string[], perInstance: number, anchor: Driver): Promise<void> {
  for (const s of steps) {
    const outs = log.outcomesOf(s.id);
    expect(outs.length, `${s.kind} ${s.id}: outcomes`).to.be.at.least(1);
    expect(outs.map((e) => e.event), `${s.kind} ${s.id}`).to.satisfy((evs: string[]) => evs.every((e) => e === 'intent.succeeded'));
    expect(outs.filter((e) => !flagged(e)).length, `${s.kind} ${s.id}: unflagged outcomes`).to.be.at.most(1);
  }
  expect(log.events.filter((e) => e.event === 'intent.rejected')).to.deep.equal([]);
  const xmls = await Promise.all(uuids.map((u) => inactiveXml(u)));
  xmls.forEach((xml, inst) => {
    expect(macsOf(xml), `instance ${inst}: its ports, in plug order`).to.deep.equal(expectedMacs(inst, perInstance));
  });
  for (const u of uuids) expect((await anchor.getState(u)).power_state).to.equal('running');
}
