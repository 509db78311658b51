/**
 * Every schema hostwall publishes, as JSON Schema documents (draft 2020-12):
 * intent args per kind and version, the reply of each, and each native
 * event. Pure: the same code gives byte-identical documents, so the
 * committed `schemas/` directory can be checked in CI.
 */
import { z } from 'zod';
import { EVENT_NAMES, EVENT_SCHEMAS } from '../events/schemas';
import { INTENT_NAMESPACE, type IntentKind, REGISTRY, replySchemaOf } from '../intents';
import { InvariantError } from '../errors';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface SchemaDocument {
  /** Path under the output directory, with `/` separators. */
  path: string;
  group: 'intents' | 'replies' | 'events';
  /** The intent kind or event name. */
  name: string;
  version: string;
  id: string;
  json: JsonValue;
}

const ID_PREFIX = 'urn:hostwall:schemas';

/** Object keys sorted at every depth, so output never depends on declaration order or zod internals. */
export function sortKeys(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: { [key: string]: JsonValue } = {};
  for (const k of Object.keys(v).sort()) {
    const child = v[k];
    if (child !== undefined) out[k] = sortKeys(child);
  }
  return out;
}

function toJson(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/**
 * One document. Intents are described as senders write them (`io: 'input'`:
 * a field with a default is optional); replies and events as the worker
 * produces them (`io: 'output'`).
 */
function document(
  schema: z.ZodType,
  io: 'input' | 'output',
  head: { id: string; title: string; description: string },
): JsonValue {
  const generated = toJson(z.toJSONSchema(schema, { target: 'draft-2020-12', io }));
  if (generated === null || typeof generated !== 'object' || Array.isArray(generated)) {
    throw new InvariantError(`${head.id}: JSON Schema generation gave ${typeof generated}`);
  }
  const { $schema, description, ...rest } = generated;
  const own = typeof description === 'string' ? `${head.description} ${description.replace(/[.!?]?$/, '.')}` : head.description;
  const body = sortKeys(rest);
  // The identifying keys first, then the schema proper, in sorted order.
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    $id: head.id,
    title: head.title,
    description: own,
    ...(body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  };
}

const byVersion = (a: string, b: string): number => {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
};

/** Every document, in a stable order: intents, replies, events; by name, then version. */
export function schemaCatalog(): SchemaDocument[] {
  const docs: SchemaDocument[] = [];
  const kinds = [...REGISTRY.keys()].sort();
  for (const kind of kinds) {
    for (const v of versionsOf(kind)) {
      docs.push({
        path: `${kind}/${v.version}.json`,
        group: 'intents',
        name: kind,
        version: v.version,
        id: `${ID_PREFIX}:${kind}:${v.version}`,
        json: document(v.schema, 'input', {
          id: `${ID_PREFIX}:${kind}:${v.version}`,
          title: `${kind} ${v.version}`,
          description: `The args of the intent ${kind}, version ${v.version} (oslo method "${kind}", namespace "${INTENT_NAMESPACE}").`,
        }),
      });
    }
  }
  for (const kind of kinds) {
    for (const v of versionsOf(kind)) {
      const id = `${ID_PREFIX}:replies:${kind}:${v.version}`;
      docs.push({
        path: `replies/${kind}/${v.version}.json`,
        group: 'replies',
        name: kind,
        version: v.version,
        id,
        json: document(replySchemaOf(kind, v.version), 'output', {
          id,
          title: `${kind} ${v.version} reply`,
          description: `The result of a ${kind} ${v.version} call when it succeeds (failures travel as oslo failures).`,
        }),
      });
    }
  }
  for (const name of [...EVENT_NAMES].sort()) {
    const { version, schema } = EVENT_SCHEMAS[name];
    const id = `${ID_PREFIX}:events:${name}:${version}`;
    docs.push({
      path: `events/${name}/${version}.json`,
      group: 'events',
      name,
      version,
      id,
      json: document(schema, 'output', {
        id,
        title: `${name} ${version}`,
        description: `hostwall event ${name}, version ${version}, on exchange hostwall.events with routing key <host>.${name}.`,
      }),
    });
  }
  return docs;
}

function versionsOf(kind: IntentKind): { version: string; schema: z.ZodType }[] {
  const def = REGISTRY.get(kind);
  const versions = (def?.versions ?? []).map((v) => ({ version: `${v.major}.${v.minor}`, schema: v.schema }));
  return versions.sort((a, b) => byVersion(a.version, b.version));
}

/** `index.json`: what is exported, where, under which `$id`. */
export function schemaIndex(docs: readonly SchemaDocument[]): JsonValue {
  const entries = (group: SchemaDocument['group'], key: 'kind' | 'event') =>
    docs.filter((d) => d.group === group).map((d) => ({ [key]: d.name, version: d.version, path: d.path, $id: d.id }));
  return {
    $comment: 'Generated by `hostwall schemas`; do not edit. JSON Schema draft 2020-12.',
    intents: entries('intents', 'kind'),
    replies: entries('replies', 'kind'),
    events: entries('events', 'event'),
  };
}

/** The bytes of a document on disk: two-space indentation and a trailing newline. */
export function renderJson(v: JsonValue): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}
