/**
 * Nova's legacy (unversioned) instance notifications: the payload of
 * nova.notifications.base.info_from_instance as
 * compute.utils.notify_about_instance_usage sends it (Zed), for
 * `compute.instance.<action>.<phase>` on the `notifications` topic with
 * publisher_id `compute.<host>`.
 *
 * The legacy payload carries no power_state: `state` is the vm_state and
 * `state_description` the task_state ('' when none).
 */
import { z } from 'zod';
import type { FaultInput, PayloadInput } from './nova-payload';
import { novaView } from './nova-payload';

const Str = z.string();

export const LegacyInstancePayload = z.strictObject({
  tenant_id: Str.nullable(),
  user_id: Str.nullable(),
  instance_id: Str,
  display_name: Str.nullable(),
  reservation_id: Str.nullable(),
  hostname: Str.nullable(),
  instance_type: Str,
  instance_type_id: z.int().nullable(),
  instance_flavor_id: Str,
  architecture: Str.nullable(),
  memory_mb: z.int().nullable(),
  disk_gb: z.int().nullable(),
  vcpus: z.int().nullable(),
  root_gb: z.int().nullable(),
  ephemeral_gb: z.int().nullable(),
  host: Str.nullable(),
  node: Str.nullable(),
  availability_zone: Str.nullable(),
  cell_name: Str,
  created_at: Str,
  terminated_at: Str,
  deleted_at: Str,
  launched_at: Str,
  image_ref_url: Str.nullable(),
  os_type: Str.nullable(),
  kernel_id: Str.nullable(),
  ramdisk_id: Str.nullable(),
  state: Str,
  state_description: Str,
  progress: z.union([z.int(), z.literal('')]),
  access_ip_v4: Str.nullable(),
  access_ip_v6: Str.nullable(),
  fixed_ips: z.array(z.record(z.string(), z.unknown())).optional(),
  image_meta: z.record(z.string(), z.string()),
  metadata: z.record(z.string(), z.string()),
  // extra_usage_info of particular events
  image_name: Str.nullable().optional(),
  volume_id: Str.optional(),
  // exception_to_dict(fault) on `.error`; `message` is also create.end's 'Success'
  exception: Str.optional(),
  message: Str.optional(),
  code: z.int().optional(),
});
export type LegacyInstancePayload = z.infer<typeof LegacyInstancePayload>;

export type LegacyExtra = Pick<LegacyInstancePayload, 'fixed_ips' | 'image_name' | 'volume_id' | 'message'>;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function parts(iso: string | undefined): { date: string; time: string; micros: number } | undefined {
  if (iso === undefined) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return { date, time, micros: d.getUTCMilliseconds() * 1000 };
}

/** `str(aware_datetime)`: "2012-10-29 13:42:11+00:00", a fraction only when non-zero. */
export function pythonStrDatetime(iso: string | undefined): string {
  const p = parts(iso);
  if (!p) return '';
  return `${p.date} ${p.time}${p.micros ? `.${pad(p.micros, 6)}` : ''}+00:00`;
}

/** nova.utils.strtime (null_safe_isotime): "2012-10-29T13:42:11.000000"; '' when unset. */
export function novaStrtime(iso: string | undefined): string {
  const p = parts(iso);
  return p ? `${p.date}T${p.time}.${pad(p.micros, 6)}` : '';
}

/** repr() of a Python exception, as jsonutils.to_primitive renders one: `Class('message')`. */
export function pythonExceptionRepr(cls: string, message: string): string {
  const quote = message.includes("'") && !message.includes('"') ? '"' : "'";
  const body = message.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(new RegExp(quote, 'g'), `\\${quote}`);
  return `${cls}(${quote}${body}${quote})`;
}

/** exception_to_dict: the fault, its message (at most 255 characters) and an HTTP-like code. */
export function legacyFault(fault: FaultInput): Pick<LegacyInstancePayload, 'exception' | 'message' | 'code'> {
  const cls = fault.osloClass ?? fault.code;
  return {
    exception: pythonExceptionRepr(cls, fault.message),
    message: fault.message.slice(0, 255),
    // NovaException.code: NotFound is 404; everything else reports 500.
    code: /NOT_FOUND$/.test(fault.code) ? 404 : 500,
  };
}

/** info_from_instance(context, instance, network_info, populate_image_ref_url=True, **extra). */
export function legacyInstancePayload(input: PayloadInput, extra: LegacyExtra = {}, fault?: FaultInput): LegacyInstancePayload {
  const { facts } = input;
  const view = novaView(input);
  const owner = facts.owner ?? input.ownerFallback;
  const flavor = facts.flavor;
  const { fixed_ips, ...rest } = extra;
  return {
    tenant_id: owner?.project_id ?? null,
    user_id: owner?.user_id ?? null,
    instance_id: facts.uuid,
    display_name: facts.name,
    reservation_id: null,
    hostname: null,
    instance_type: '',
    instance_type_id: null,
    instance_flavor_id: '',
    architecture: null,
    memory_mb: flavor?.memory_mb ?? null,
    disk_gb: flavor?.root_gb ?? null,
    vcpus: flavor?.vcpus ?? null,
    root_gb: flavor?.root_gb ?? null,
    ephemeral_gb: flavor ? 0 : null,
    host: facts.host,
    node: facts.host,
    availability_zone: null,
    cell_name: '',
    created_at: pythonStrDatetime(facts.created_at),
    terminated_at: novaStrtime(view.terminated_at),
    deleted_at: novaStrtime(view.deleted_at),
    launched_at: novaStrtime(facts.launched_at),
    // Nova puts glance's image URL here; without a glance endpoint it falls back to the image ref.
    image_ref_url: facts.image_id ?? null,
    os_type: null,
    kernel_id: null,
    ramdisk_id: null,
    state: view.state ?? '',
    state_description: view.task_state ?? '',
    progress: '',
    access_ip_v4: null,
    access_ip_v6: null,
    ...(fixed_ips !== undefined ? { fixed_ips } : {}),
    image_meta: {},
    metadata: { ...facts.metadata },
    ...rest,
    ...(fault ? legacyFault(fault) : {}),
  };
}
