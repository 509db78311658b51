/**
 * Nova object primitives as hostwall sends them upward, and the conductor's
 * answer to an object action. (Reading the primitives Nova sends down is
 * ../nova-object.ts; these are the raw, writable form.)
 *
 * An object action (`Instance.save`, `Service.create`, ...) sends the
 * object's primitive with `nova_object.changes` naming the fields to write;
 * the conductor runs the method and answers `[updates, result]`, where
 * `updates` holds every field whose value the method changed (ids,
 * timestamps, nested objects) and `obj_what_changed`. The caller applies
 * `updates` to its copy, as oslo's remotable wrapper does, so its next
 * action carries what the database now holds.
 */
import { z } from 'zod';
import { versionOf } from './versions';

export const NovaPrimitive = z.looseObject({
  'nova_object.name': z.string(),
  'nova_object.namespace': z.literal('nova'),
  'nova_object.version': z.string(),
  'nova_object.data': z.record(z.string(), z.unknown()),
  'nova_object.changes': z.array(z.string()).optional(),
});
export type NovaPrimitive = z.output<typeof NovaPrimitive>;

/** A primitive of Zed's version of `name`. */
export function primitive(name: string, data: Record<string, unknown>, changes?: readonly string[]): NovaPrimitive {
  return {
    'nova_object.name': name,
    'nova_object.namespace': 'nova',
    'nova_object.version': versionOf(name),
    'nova_object.data': data,
    ...(changes ? { 'nova_object.changes': [...changes] } : {}),
  };
}

/** A list object's primitive (`{objects: [...]}`) as the conductor returns it. */
export const NovaListPrimitive = NovaPrimitive.extend({
  'nova_object.data': z.looseObject({ objects: z.array(NovaPrimitive) }),
});

/** object_action's reply: [updates, result]. */
export const ObjectActionReply = z.tuple([z.record(z.string(), z.unknown()), z.unknown()]);

/** Fields of `updates` that are bookkeeping, not object fields. */
const NOT_FIELDS = new Set(['obj_what_changed']);

/** Apply an object action's `updates` to a primitive's data (returns a new data record). */
export function applyUpdates(data: Readonly<Record<string, unknown>>, updates: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  for (const [k, v] of Object.entries(updates)) if (!NOT_FIELDS.has(k)) out[k] = v;
  return out;
}
