/**
 * hostwall's native events (docs/design.md#events): JSON bodies published on the topic
 * exchange `hostwall.events` with routing key `<host>.<subject>.<event>`,
 * e.g. `h1.intent.succeeded`, `h1.instance.state`.
 *
 * Each event schema is versioned on its own (`version` in the body, and
 * `schemas/events/<event>/<version>.json`). Schemas are strict: a field is
 * only ever added with a new minor version, so a consumer validating against
 * the exported schema sees exactly what the worker promised.
 *
 * `kind` is a plain string rather than the enum of intent kinds so that a
 * new intent kind does not change every event schema.
 */
import { z } from 'zod';
import { PowerState, TaskState, VmState } from '../intents/states';

export const EVENTS_EXCHANGE = 'hostwall.events';

const Text = z.string().min(1).max(1024);

/** Fields every native event carries. */
const envelope = {
  version: z.literal('1.0'),
  intent_id: Text.nullable().describe(
    'The intent this event is about: args.intent_id, else the oslo _unique_id; null when neither is known',
  ),
  request_id: Text.nullable().describe('The oslo context request_id of the message, if any'),
  global_request_id: Text.nullable().describe('The oslo context global_request_id, if any'),
  host: Text.describe('The worker (compute host) that published the event'),
  at: z.iso.datetime().describe('When the worker published the event (UTC, ISO 8601)'),
};

/** A re-published outcome says why it is seen again; it had no new driver effect. */
const republished = {
  redelivered: z
    .literal(true)
    .optional()
    .describe('Present when the outcome is published again for a duplicate delivery of an applied intent'),
  replayed: z
    .literal(true)
    .optional()
    .describe('Present when the outcome is published again for a replay of an applied intent'),
};

/** The instance an outcome is about, in Nova's vocabulary; all null for host and port intents. */
const instanceView = {
  instance_uuid: z.string().nullable(),
  power_state: PowerState.nullable(),
  vm_state: VmState.nullable(),
  task_state: TaskState,
};

export const ErrorBody = z.strictObject({
  code: z.string().min(1).max(64).describe('Stable hostwall error code, e.g. INSTANCE_NOT_FOUND'),
  message: z.string().max(4096),
});

export const IntentAccepted = z
  .strictObject({
    event: z.literal('intent.accepted'),
    ...envelope,
    kind: Text,
    instance_uuid: z.string().nullable(),
  })
  .describe('The worker took an intent: it passed validation and is scheduled on its lanes');

export const IntentSucceeded = z
  .strictObject({
    event: z.literal('intent.succeeded'),
    ...envelope,
    kind: Text,
    ...instanceView,
    ...republished,
  })
  .describe('An intent was carried out; for instance intents, the state it left the instance in');

export const IntentFailed = z
  .strictObject({
    event: z.literal('intent.failed'),
    ...envelope,
    kind: Text,
    ...instanceView,
    error: ErrorBody,
    ...republished,
  })
  .describe('A valid intent could not be carried out; final');

export const IntentRejected = z
  .strictObject({
    event: z.literal('intent.rejected'),
    ...envelope,
    kind: Text.nullable().describe('The method as sent (perhaps not a known kind); null if the message had none'),
    routing_key: z.string().max(255).describe('The routing key the refused message arrived with'),
    error: ErrorBody,
  })
  .describe('A message was refused before any effect (invalid, unknown kind or version, refused issuer) and dead-lettered');

export const InstanceStateChanged = z
  .strictObject({
    event: z.literal('instance.state'),
    ...envelope,
    instance_uuid: z.string(),
    power_state: PowerState,
    vm_state: VmState,
    task_state: TaskState,
    cause: z
      .enum(['intent', 'hypervisor', 'reconcile'])
      .describe('intent: an intent changed it; hypervisor: a libvirt lifecycle event; reconcile: found on restart'),
  })
  .describe("An instance's power, vm and task state as the worker now knows it");

/** Every native event by name, with its current version. */
export const EVENT_SCHEMAS = {
  'intent.accepted': { version: '1.0', schema: IntentAccepted },
  'intent.succeeded': { version: '1.0', schema: IntentSucceeded },
  'intent.failed': { version: '1.0', schema: IntentFailed },
  'intent.rejected': { version: '1.0', schema: IntentRejected },
  'instance.state': { version: '1.0', schema: InstanceStateChanged },
} as const;

export type EventName = keyof typeof EVENT_SCHEMAS;
export const EVENT_NAMES = Object.keys(EVENT_SCHEMAS) as EventName[];

export const HostwallEvent = z.discriminatedUnion('event', [
  IntentAccepted, IntentSucceeded, IntentFailed, IntentRejected, InstanceStateChanged,
]);

export type ErrorBody = z.infer<typeof ErrorBody>;
export type IntentAccepted = z.infer<typeof IntentAccepted>;
export type IntentSucceeded = z.infer<typeof IntentSucceeded>;
export type IntentFailed = z.infer<typeof IntentFailed>;
export type IntentRejected = z.infer<typeof IntentRejected>;
export type InstanceStateChanged = z.infer<typeof InstanceStateChanged>;
export type HostwallEvent = z.infer<typeof HostwallEvent>;

/**
 * `<host>.<subject>.<event>`. Hosts are often FQDNs with dots of their own, so
 * bind with `#.intent.succeeded` (every host) or `<host>.#` (one host), not `*.`.
 */
export function eventRoutingKey(host: string, event: EventName): string {
  return `${host}.${event}`;
}

/** Throws a ZodError naming the first bad field: for consumers and tests. */
export function parseEvent(body: unknown): HostwallEvent {
  return HostwallEvent.parse(body);
}
