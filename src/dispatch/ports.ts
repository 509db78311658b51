/**
 * What the dispatcher needs from the layers beside it, as interfaces, so it
 * can be read (and tested) without a broker: the wire codec (oslo), and the
 * event sink (native events and Nova notifications).
 */
import type { RejectedError } from '../errors';
import type { InstanceFacts, RequestFacts } from '../events/instance-facts';
import type { Intent, IntentKind } from '../intents';
import type { InboundMessage } from '../transport/transport';
import type { ErrorInfo, FinalOutcome } from './outcome';

/** An oslo RPC request as the dispatcher needs it. */
export interface WireRequest {
  method: string;
  namespace: string | undefined;
  version: string | undefined;
  args: unknown;
  uniqueId: string | undefined;
  context: Record<string, unknown>;
  /** Present for calls. */
  call: { msgId: string; replyQueue: string; timeoutS: number | null } | undefined;
}

export interface Wire {
  /** Throws RejectedError for anything that is not an oslo request. */
  decode(msg: InboundMessage): WireRequest;
  /** The final reply to a call: a result or oslo's failure form. Resolves once confirmed (or unroutable). */
  reply(call: NonNullable<WireRequest['call']>, body: { result: unknown } | { error: ErrorInfo }): Promise<void>;
  /** Call-monitor heartbeat (oslo sends these every _timeout/2 s). */
  heartbeat(call: NonNullable<WireRequest['call']>): Promise<void>;
  /** How often to send heartbeats for this call, or undefined for none (oslo: only with a numeric _timeout >= 2). */
  heartbeatEveryMs(call: NonNullable<WireRequest['call']>): number | undefined;
  /** Move a refused message to the host's dead-letter queue with its reason. Resolves once confirmed. */
  deadLetter(msg: InboundMessage, err: RejectedError, o?: DeadLetterOptions): Promise<void>;
}

export interface DeadLetterOptions {
  /** Deliveries counted so far, noted on the dead letter. */
  deliveries?: number;
  /** `<code>: <message>` of the refusal it was first refused for, when the reason given is not that one. */
  firstError?: string;
}

export type NovaPhase = 'start' | 'end' | 'error';

export interface EventSink {
  accepted(kind: IntentKind, req: RequestFacts, instance: string | undefined): Promise<void>;
  /** Nova's `<action>.start|end|error` for kinds Nova notifies about; resolves at once for the others. */
  novaPhase(intent: Intent, phase: NovaPhase, facts: InstanceFacts, req: RequestFacts, error?: ErrorInfo): Promise<void>;
  instanceState(facts: InstanceFacts, req: RequestFacts, cause: 'intent' | 'hypervisor' | 'reconcile'): Promise<void>;
  outcome(o: FinalOutcome, req: RequestFacts, flags: { redelivered?: boolean; replayed?: boolean }): Promise<void>;
  rejected(err: RejectedError, req: Partial<RequestFacts>, original: { routingKey: string; method: string | undefined }): Promise<void>;
}
