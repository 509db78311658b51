/**
 * external_instance_event → one intent per event that changes the host.
 *
 * Nova's handling (compute/manager.py external_instance_event) and hostwall's:
 * - network-vif-plugged (Neutron: port went ACTIVE = completed, ERROR = failed)
 *   wakes the spawn waiting on that port → port.ready {port_id: tag, status}.
 * - network-vif-deleted: Nova detaches the interface from the guest → port.unplug.
 * - volume-extended (Cinder): Nova grows the attached disk → volume.extend.
 * - network-changed: Nova only refreshes its network info cache from Neutron,
 *   network-vif-unplugged only wakes a waiter (live migration) or is logged as
 *   unexpected: nothing on the host changes, so no intent (noted as ignored).
 * - power-update (Ironic), accelerator-request-bound (Cyborg), volume-reimaged
 *   (Cinder, during a rebuild hostwall does not serve) and any other name are
 *   refused as UNKNOWN_KIND, naming the event. One unsupported event refuses the
 *   whole message: a cast is dead-lettered whole, and nothing is dropped silently.
 *   (Nova's API sends one cast per host with all of a request's events; Neutron's
 *   and Cinder's events do not share a request, so this does not hold back a
 *   port.ready behind an Ironic event in practice.)
 */
import { RejectedError } from '../../errors';
import type { Intent } from '../../intents';
import { ExternalInstanceEventArgs } from './method-args';
import { decodeNova, type InstanceExternalEvent } from './objects';
import { adapted, intent, type NovaAdapted, nthIntentId, refuse, type Translation } from './translation';

type Draft = (id: { intent_id?: string }) => Intent;

const NO_HOST_EFFECT: Record<string, string> = {
  'network-changed': 'Nova refreshes its network info cache from Neutron',
  'network-vif-unplugged': 'Nova only wakes a live-migration waiter',
};

function draftFor(t: Translation, event: InstanceExternalEvent): Draft | string {
  const { name, status, instance_uuid } = event.data;
  const tag = event.data.tag ?? refuse(t, `event ${name} for instance ${instance_uuid} has no tag`);
  switch (name) {
    case 'network-vif-plugged':
      if (status === 'in-progress') return refuse(t, `event ${name} for port ${tag} has status in-progress; Neutron sends completed or failed`);
      return (id) => intent('port.ready', { ...id, port_id: tag, status });
    case 'network-vif-deleted':
      return (id) => intent('port.unplug', { ...id, instance_uuid, port_id: tag });
    case 'volume-extended':
      return (id) => intent('volume.extend', { ...id, instance_uuid, volume_id: tag });
    default: {
      const why = NO_HOST_EFFECT[name];
      if (why) return `event ${name} (${tag}): no host effect, ${why}`;
      throw new RejectedError('UNKNOWN_KIND', `Nova external instance event ${name} is not supported by hostwall yet`, {
        method: t.method,
        event: name,
      });
    }
  }
}

export function translateExternalInstanceEvent(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(ExternalInstanceEventArgs, raw, t.method);
  const known = new Set(args.instances.map((i) => i.data.uuid));
  const drafts: Draft[] = [];
  const ignored: string[] = [];
  for (const event of args.events) {
    // Nova indexes `instances` by the event's uuid and fails on a miss; so do we, by name.
    if (!known.has(event.data.instance_uuid)) refuse(t, `event ${event.data.name} names instance ${event.data.instance_uuid}, which is not among the instances sent`);
    const d = draftFor(t, event);
    if (typeof d === 'string') ignored.push(d);
    else drafts.push(d);
  }
  return adapted(
    drafts.map((d, n) => d(nthIntentId(t, n, drafts.length))),
    ignored,
  );
}
