/**
 * Ports as Nova carries them: the NetworkRequest(List) object a boot asks
 * for, and the network model VIF (nova/network/model.py) that Nova caches in
 * InstanceInfoCache.network_info and that attach_interface returns.
 *
 * Only the ids are strict: Nova itself does not know a port's MAC, VIF type or
 * bridge until nova-compute binds it through Neutron's API, so a request never
 * carries them (see facts.ts for how hostwall learns them).
 */
import { z } from 'zod';
import { novaObject, novaObjectList } from './nova-object';

const nullableString = z.string().max(255).nullable().optional();

/**
 * NetworkRequest 1.x. `network_id` may also be Nova's sentinels "auto" or
 * "none" (microversion 2.37), so it is not a uuid; `port_id` is.
 */
export const NetworkRequest = novaObject(
  'NetworkRequest',
  1,
  z.looseObject({
    network_id: nullableString,
    port_id: z.guid().nullable().optional(),
    address: nullableString,
    tag: nullableString,
    pci_request_id: z.string().nullable().optional(),
    arq_uuid: z.string().nullable().optional(),
    device_profile: z.string().nullable().optional(),
  }),
);

export const NetworkRequestList = novaObjectList('NetworkRequestList', 1, NetworkRequest);

/**
 * A network model VIF, as `NetworkInfo` JSON holds it. Loose throughout: it is
 * a dict that Nova and its drivers add keys to freely.
 */
export const VifModel = z.looseObject({
  id: z.string().min(1).max(128),
  address: nullableString,
  type: nullableString,
  vnic_type: nullableString,
  active: z.boolean().nullable().optional(),
  devname: nullableString,
  details: z.record(z.string(), z.unknown()).nullable().optional(),
  network: z
    .looseObject({
      id: nullableString,
      bridge: nullableString,
      label: nullableString,
      meta: z.looseObject({ mtu: z.int().nullable().optional() }).nullable().optional(),
    })
    .nullable()
    .optional(),
});

export type NetworkRequest = z.output<typeof NetworkRequest>;
export type NetworkRequestList = z.output<typeof NetworkRequestList>;
export type VifModel = z.output<typeof VifModel>;
