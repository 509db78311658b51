/**
 * Nova versioned-object primitives, as NovaObjectSerializer puts them on the
 * wire (oslo.versionedobjects `obj_to_primitive`):
 *
 *   {"nova_object.name": "Flavor", "nova_object.namespace": "nova",
 *    "nova_object.version": "1.2", "nova_object.data": {...},
 *    "nova_object.changes": ["vcpus", ...]}
 *
 * Only fields that are set appear in `data`; `changes` lists the fields changed
 * since the object was loaded, in Python set order (it is not significant).
 *
 * A primitive of a major version hostwall was not written against is refused as
 * UNSUPPORTED_VERSION (a Python receiver would raise IncompatibleObjectVersion);
 * every other decoding problem is INVALID_INTENT. Minors are accepted upwards:
 * `data` is read loosely, so a field added in a later minor is carried along
 * unread, which is exactly oslo.versionedobjects' own compatibility rule.
 */
import { z } from 'zod';
import { RejectedError } from '../../errors';

/** Marker on the zod issue that says "this object's version is not one we read". */
const VERSION_ISSUE = 'nova_object_version';

export interface NovaObject<T> {
  name: string;
  version: string;
  data: T;
  changes: string[];
}

function versionOf(name: string, major: number) {
  return z.string().superRefine((v, ctx) => {
    const m = /^(\d+)\.(\d+)$/.exec(v);
    if (!m || Number(m[1]) !== major) {
      ctx.addIssue({
        code: 'custom',
        message: `${name} version ${v} is not one hostwall reads (${major}.x)`,
        params: { [VERSION_ISSUE]: true },
      });
    }
  });
}

/**
 * The primitive of Nova object `name`, major version `major`, whose `data` is
 * checked by `data` (give it a z.looseObject: unknown fields pass through).
 * Parses to `{name, version, data, changes}`.
 */
export function novaObject<T extends z.ZodType>(name: string, major: number, data: T) {
  return z
    .looseObject({
      'nova_object.name': z.literal(name, { error: `must be a ${name} primitive` }),
      'nova_object.namespace': z.literal('nova'),
      'nova_object.version': versionOf(name, major),
      'nova_object.data': data,
      'nova_object.changes': z.array(z.string()).optional(),
    })
    .transform(
      (o): NovaObject<z.output<T>> => ({
        name,
        version: o['nova_object.version'],
        // zod cannot carry T through looseObject's inference inside a generic; the field was parsed by `data`.
        data: o['nova_object.data'] as z.output<T>,
        changes: o['nova_object.changes'] ?? [],
      }),
    );
}

/** An ObjectListBase primitive (BlockDeviceMappingList, NetworkRequestList, ...): data is `{objects: [...]}`. */
export function novaObjectList<T extends z.ZodType>(name: string, major: number, item: T) {
  return novaObject(name, major, z.looseObject({ objects: z.array(item).max(1024) }));
}

/**
 * A string field holding JSON (Nova's connection_info, network_info): parsed,
 * then checked by `inner`.
 */
export function jsonString<T extends z.ZodType>(inner: T) {
  return z
    .string()
    .max(1024 * 1024)
    .transform((s, ctx): unknown => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON string' });
        return z.NEVER;
      }
    })
    .pipe(inner);
}

function isVersionIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'custom' && issue.params?.[VERSION_ISSUE] === true) return true;
  // A union (e.g. a nullable object) reports its branches' issues nested.
  if (issue.code === 'invalid_union') return issue.errors.some((branch) => branch.some(isVersionIssue));
  return false;
}

/**
 * Decode `value` with `schema` or throw the RejectedError a Nova method's
 * translation should fail with: UNSUPPORTED_VERSION for an object of a major
 * hostwall does not read, INVALID_INTENT naming the first problems otherwise.
 */
export function decodeNova<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(args)'}: ${i.message}`);
  const code = result.error.issues.some(isVersionIssue) ? 'UNSUPPORTED_VERSION' : 'INVALID_INTENT';
  throw new RejectedError(code, `${what}: ${issues.join('; ')}`, { method: what, issues });
}
