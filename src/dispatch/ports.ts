/**
 * What the dispatcher needs from the layers beside it, as interfaces, so it
 * can be read (and tested) without a broker: the wire codec (oslo), and the
 * event sink (native events and Nova notifications).
 */
import type { RejectedError } from '../errors';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
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

/** Why an instance.state is published: an intent's outcome, a change the hypervisor made, or a restart's reconciliation. */
export type InstanceStateCause = 'intent' | 'hypervisor' | 'reconcile';

export interface EventSink {
  accepted(kind: IntentKind, req: IntentRequest, instance: string | undefined): Promise<void>;
  /** Nova's `<action>.start|end|error` for kinds Nova notifies about; resolves at once for the others. */
  novaPhase(intent: Intent, phase: NovaPhase, facts: InstanceView, req: IntentRequest, error?: ErrorInfo): Promise<void>;
  instanceState(facts: InstanceView, req: IntentRequest, cause: InstanceStateCause): Promise<void>;
  outcome(o: FinalOutcome, req: IntentRequest, flags: { redelivered?: boolean; replayed?: boolean }): Promise<void>;
  rejected(err: RejectedError, req: Partial<IntentRequest>, original: { routingKey: string; method: string | undefined }): Promise<void>;
}

/**
 * What a sender keeps about an intent besides the host itself (Nova: its
 * database, written through nova-conductor), done inside the intent's lanes
 * so that it keeps the intent's order: before the driver, and once the
 * driver's result is known. Dispatch knows only this shape; the sender's
 * adapter fills it in.
 */
export interface IntentHooks {
  /** Before the driver; a rejection fails the intent without touching the host. */
  before?(): Promise<void>;
  /** The driver succeeded; a rejection makes the outcome that failure (the host keeps its change). */
  succeeded?(facts: InstanceView | undefined): Promise<void>;
  /** The intent failed (in before, the driver or succeeded); never rejects. */
  failed?(error: ErrorInfo, facts: InstanceView | undefined): Promise<void>;
}

/**
 * The sender-side records of Nova's compute RPC requests (the Nova adapter's
 * compute-host duties): hooks for the intents a request became, and word of
 * a request hostwall refused, so the instance it names does not wait forever.
 */
export interface SenderRecords {
  /** Hooks for each intent admitted from one Nova request, in the same order (undefined: none). */
  forNovaRequest(req: WireRequest, intents: readonly Intent[]): readonly (IntentHooks | undefined)[];
  /** A refused Nova request; resolves when recorded (bounded in time), never rejects. */
  novaRefused(req: WireRequest, error: ErrorInfo): Promise<void>;
}

/** How an intent's message ended, as counted: run now, or answered from its record. */
export type IntentEnd = 'succeeded' | 'failed' | 'duplicate';

/**
 * What the dispatcher counts (worker/metrics.ts fills it in). Called on the
 * hot path, once per intent or refusal: must be cheap and never throw.
 */
export interface DispatchMetrics {
  /** An intent's outcome is final and everything it caused confirmed; `seconds` since its message arrived. */
  intentDone(kind: string, end: IntentEnd, seconds: number): void;
  /** A message was refused and its dead letter confirmed. */
  deadLettered(code: string): void;
}
