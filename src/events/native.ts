/**
 * Builders of the native events (schemas.ts) from what the dispatcher knows:
 * the request (oslo context), the instance view and the outcome. Each
 * builder returns a body that its schema accepts; the publisher adds nothing.
 */
import { cut } from '../limits/identifiers';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import {
  type EventName, eventRoutingKey, type HostwallEvent, type InstanceStateChanged, type IntentAccepted,
  type IntentFailed, type IntentRejected, type IntentSucceeded,
} from './schemas';

/** Where and when an event is published. */
export interface EventOrigin {
  host: string;
  /** Defaults to now. */
  at?: Date;
}

/**
 * An intent's final outcome, as the dispatcher records it (its FinalOutcome
 * fits this shape). `instanceUuid` names the instance when the facts are gone
 * (a failed intent on an instance the worker never knew).
 */
export type OutcomeInput =
  | { status: 'succeeded'; intentId: string; kind: string; instance: InstanceView | undefined; instanceUuid?: string }
  | {
      status: 'failed';
      intentId: string;
      kind: string;
      error: { code: string; message: string };
      instance: InstanceView | undefined;
      instanceUuid?: string;
    };

export interface RepublishFlags {
  redelivered?: boolean;
  replayed?: boolean;
}

export type CauseOfChange = InstanceStateChanged['cause'];

/** Error messages are published; a runaway one is cut, not allowed to fail the event. */
const MAX_MESSAGE = 4096;
/** The schemas' bound on ids and kinds (schemas.ts Text): whatever a message carried, an event never exceeds it. */
const MAX_TEXT = 1024;
const MAX_ROUTING_KEY = 255;

const orNull = (s: string | undefined): string | null => (s === undefined || s === '' ? null : cut(s, MAX_TEXT));

function envelope(request: Partial<IntentRequest> | undefined, origin: EventOrigin) {
  return {
    version: '1.0' as const,
    intent_id: orNull(request?.intent_id),
    request_id: orNull(request?.request_id),
    global_request_id: orNull(request?.global_request_id),
    host: origin.host,
    at: (origin.at ?? new Date()).toISOString(),
  };
}

function errorBody(e: { code: string; message: string }) {
  return { code: cut(e.code, 64), message: cut(e.message, MAX_MESSAGE) };
}

export function intentAccepted(
  kind: string,
  request: IntentRequest,
  instanceUuid: string | undefined,
  origin: EventOrigin,
): IntentAccepted {
  return { event: 'intent.accepted', ...envelope(request, origin), kind: cut(kind, MAX_TEXT), instance_uuid: instanceUuid ?? null };
}

/** intent.succeeded or intent.failed; a re-published outcome carries its flag. */
export function intentOutcome(
  o: OutcomeInput,
  request: IntentRequest,
  flags: RepublishFlags,
  origin: EventOrigin,
): IntentSucceeded | IntentFailed {
  const base = { ...envelope({ ...request, intent_id: o.intentId }, origin), kind: cut(o.kind, MAX_TEXT) };
  const f = o.instance;
  const instance = {
    instance_uuid: f?.uuid ?? o.instanceUuid ?? null,
    power_state: f?.power_state ?? null,
    vm_state: f?.vm_state ?? null,
    task_state: f?.task_state ?? null,
  };
  const marks = {
    ...(flags.redelivered ? { redelivered: true as const } : {}),
    ...(flags.replayed ? { replayed: true as const } : {}),
  };
  if (o.status === 'succeeded') return { event: 'intent.succeeded', ...base, ...instance, ...marks };
  return { event: 'intent.failed', ...base, ...instance, error: errorBody(o.error), ...marks };
}

/**
 * A refused message. The request facts may be partial (the message may not
 * even have decoded); an empty intent id means none was known.
 */
export function intentRejected(
  error: { code: string; message: string },
  request: Partial<IntentRequest>,
  original: { routingKey: string; method: string | undefined },
  origin: EventOrigin,
): IntentRejected {
  return {
    event: 'intent.rejected',
    ...envelope(request, origin),
    kind: orNull(original.method),
    routing_key: cut(original.routingKey, MAX_ROUTING_KEY),
    error: errorBody(error),
  };
}

/** The instance's state now; `request` is absent when no intent caused it. */
export function instanceState(
  facts: InstanceView,
  request: IntentRequest | undefined,
  cause: CauseOfChange,
  origin: EventOrigin,
): InstanceStateChanged {
  return {
    event: 'instance.state',
    ...envelope(request, origin),
    instance_uuid: facts.uuid,
    power_state: facts.power_state,
    vm_state: facts.vm_state,
    task_state: facts.task_state,
    cause,
  };
}

/** The routing key an event is published with on `hostwall.events`. */
export function routingKeyOf(event: HostwallEvent): string {
  const name: EventName = event.event;
  return eventRoutingKey(event.host, name);
}
