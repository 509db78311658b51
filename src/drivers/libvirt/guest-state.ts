/**
 * A guest's power state in Nova's vocabulary, from libvirt's domain state.
 *
 * libvirt → Nova (nova/virt/libvirt/guest.py LIBVIRT_POWER_STATE, plus
 * managed save): running and blocked → running; paused → paused; shutdown
 * (shutting down) and shutoff → shutdown; crashed → crashed; pmsuspended →
 * suspended; nostate → pending. A shut-off guest with a managed save image
 * was suspended by us (virDomainManagedSave) → suspended.
 */
import type { GuestState } from '../driver';
import type { PowerState } from '../../intents';
import type { Connection } from './connection';
import { DomainState, type DomainPtr, domainName, domainUuid, Flags } from './ffi';

export function powerStateOf(state: number, hasManagedSave = false): PowerState {
  switch (state) {
    case DomainState.RUNNING:
    case DomainState.BLOCKED:
      return 'running';
    case DomainState.PAUSED:
      return 'paused';
    case DomainState.SHUTDOWN:
      return 'shutdown';
    case DomainState.SHUTOFF:
      return hasManagedSave ? 'suspended' : 'shutdown';
    case DomainState.CRASHED:
      return 'crashed';
    case DomainState.PMSUSPENDED:
      return 'suspended';
    default:
      return 'pending';
  }
}

export async function guestState(c: Connection, dom: DomainPtr): Promise<GuestState> {
  const state = await c.domainState(dom);
  const saved = state === DomainState.SHUTOFF && (await c.domainInt('domainHasManagedSaveImage', dom, 0)) === 1;
  return { instance_uuid: domainUuid(dom), name: domainName(dom), power_state: powerStateOf(state, saved) };
}

/**
 * Every guest, with a handful of listings instead of a call per guest
 * (docs/libvirt.md#events: ~7 ms for 1,000 guests this way, ~45 ms per-guest). Only guests
 * in an unusual state (crashed, shutting down, pmsuspended) cost a call each.
 * A guest changing state between listings may show its older state; the
 * next listing corrects it.
 */
export async function listGuests(c: Connection): Promise<GuestState[]> {
  const saved = new Set<string>();
  for (const dom of await c.listDomains(Flags.LIST_SHUTOFF | Flags.LIST_MANAGEDSAVE)) {
    saved.add(domainUuid(dom));
    c.freeDomain(dom);
  }
  const out = new Map<string, GuestState>();
  const listings: [number, PowerState | undefined][] = [
    [Flags.LIST_RUNNING, 'running'],
    [Flags.LIST_PAUSED, 'paused'],
    [Flags.LIST_SHUTOFF, 'shutdown'],
    [Flags.LIST_OTHER, undefined],
  ];
  for (const [flags, known] of listings) {
    const doms = await c.listDomains(flags);
    try {
      for (const dom of doms) {
        const uuid = domainUuid(dom);
        let power = known ?? powerStateOf(await c.domainState(dom));
        if (power === 'shutdown' && known && saved.has(uuid)) power = 'suspended';
        out.set(uuid, { instance_uuid: uuid, name: domainName(dom), power_state: power });
      }
    } finally {
      for (const dom of doms) c.freeDomain(dom);
    }
  }
  return [...out.values()];
}
