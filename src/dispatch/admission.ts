/**
 * Which intents a request is, and who sent them: the part of dispatch that
 * decides before anything runs. Two ports of entry, one path after them:
 *
 * - namespace "hostwall": one native intent, method = kind. Issuer policy
 *   first (a refused issuer learns nothing about the schema), then the
 *   schema of the version the message names.
 * - no namespace (null or absent): Nova's compute RPC API, as an unmodified
 *   nova-api / nova-conductor sends it (adapters/nova). Its context names no
 *   issuer, so a Nova message is issuer "nova" (unless its context claims
 *   another); the sender's identity is checked before the message is read,
 *   then the adapter turns it into zero or more intents, each validated by
 *   the same schemas as a native one and admitted by the same per-kind
 *   policy. An external_instance_event batch gives one intent per event,
 *   each with its own id `<_unique_id>:<n>`.
 * - any other namespace: refused as oslo's dispatcher does, UnsupportedVersion.
 *
 * What is admitted also teaches the learnt bindings (host-state/learnt-bindings.ts).
 */
import { adaptNovaRequest } from '../adapters/nova';
import { RejectedError } from '../errors';
import { INTENT_NAMESPACE, type Intent, type Issuer, isIntentKind, validateIntent } from '../intents';
import type { IssuerPolicy } from '../policy/issuer-policy';
import type { InboundMessage } from '../transport/transport';
import type { LearntBindings } from '../host-state/learnt-bindings';
import type { IntentHooks, SenderRecords, WireRequest } from './ports';

/** The issuer of Nova's compute RPC messages, whose context names none. */
export const NOVA_ISSUER: Issuer = 'nova';

export interface AdmittedIntent {
  intent: Intent;
  issuer: string | undefined;
  /** The sender's records kept around this intent (Nova's database), if any. */
  hooks?: IntentHooks | undefined;
}

export interface Admitted {
  /** "hostwall": a native intent (the call's reply is its outcome); "nova": Nova's compute RPC. */
  source: 'hostwall' | 'nova';
  /** To run in this order (they join their lanes in it). Empty: accepted, nothing for the host to do. */
  intents: AdmittedIntent[];
  /** Nova calls: the `result` Nova's caller expects, from the intents' results; absent: None. */
  reply?: ((results: unknown[]) => unknown) | undefined;
  /** Nova inputs with an effect hostwall does not carry out (names only), for the log. */
  ignored: string[];
}

export interface AdmissionDeps {
  policy: IssuerPolicy;
  bindings: LearntBindings;
  /** Nova's own records of its requests (the compute-host duties), when this worker keeps them. */
  records?: SenderRecords | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function credentials(msg: InboundMessage, claimed: string | undefined) {
  return { body: msg.body, headers: msg.headers, userId: msg.userId, claimed, routingKey: msg.routingKey };
}

export function admit(msg: InboundMessage, req: WireRequest, deps: AdmissionDeps): Admitted {
  if (req.namespace === INTENT_NAMESPACE) return admitNative(msg, req, deps);
  if (req.namespace === undefined) return admitNova(msg, req, deps);
  // oslo's dispatcher answers an unknown namespace with UnsupportedVersion.
  throw new RejectedError('UNSUPPORTED_VERSION', `Endpoint does not support RPC version ${req.version ?? '1.0'}. Attempted method: ${req.method} (namespace ${JSON.stringify(req.namespace)} is not served; intents use namespace "${INTENT_NAMESPACE}", Nova's compute RPC API none)`, { method: req.method, namespace: req.namespace });
}

function admitNative(msg: InboundMessage, req: WireRequest, deps: AdmissionDeps): Admitted {
  let issuer: string | undefined;
  if (isIntentKind(req.method)) issuer = deps.policy.admit(req.method, credentials(msg, str(req.context.issuer))).issuer;
  const intent = validateIntent(req.method, req.version, req.args);
  deps.bindings.learnIntent(intent);
  return { source: 'hostwall', intents: [{ intent, issuer }], ignored: [] };
}

function admitNova(msg: InboundMessage, req: WireRequest, deps: AdmissionDeps): Admitted {
  const creds = credentials(msg, str(req.context.issuer) ?? NOVA_ISSUER);
  // Who sent it, before reading it: instance.get_state may be sent by every issuer, so this checks
  // only the identity (a proof, or the claim); each intent's kind is checked below.
  const sender = deps.policy.admit('instance.get_state', creds);
  const args = req.args !== null && typeof req.args === 'object' && !Array.isArray(req.args) ? (req.args as Record<string, unknown>) : {};
  const adapted = adaptNovaRequest(
    { method: req.method, version: req.version, args, context: req.context, ...(req.uniqueId !== undefined ? { uniqueId: req.uniqueId } : {}) },
    deps.bindings.lookups,
  );
  const hooks = deps.records?.forNovaRequest(req, adapted.intents) ?? [];
  const intents = adapted.intents.map((intent, i) => ({ intent, issuer: deps.policy.admit(intent.kind, creds).issuer, hooks: hooks[i] }));
  deps.bindings.learnNovaArgs(args, (kind) => deps.policy.allows(kind, sender));
  for (const { intent } of intents) deps.bindings.learnIntent(intent);
  return { source: 'nova', intents, reply: adapted.reply, ignored: adapted.ignored };
}
