/**
 * decode → limits → validate → admit (issuer) → dedupe → serialize → record
 * "started" → driver → record outcome → events → reply → ack.
 *
 * Contract with the broker (docs/design.md#guarantees): a message is acked only when its
 * outcome is final and recorded in the intent store, and everything it
 * caused (events, notifications, the reply, a dead letter) has been
 * confirmed by the broker. Any failure before that leaves it for redelivery,
 * and a redelivered or replayed intent whose outcome is recorded is answered
 * from the record (published again with `redelivered: true` or
 * `replayed: true`) instead of being applied twice.
 *
 * One message may be several intents (a Nova external_instance_event batch,
 * admission.ts) or none: each intent runs through this same path with its
 * own id, and the message is acked when all of them are final. A Nova call
 * is answered with what the Nova method returns (admission.ts).
 *
 * Ordering: everything between a delivery and its place in the serializer's
 * lanes is synchronous (store reads are synchronous), so intents join their
 * lanes in delivery order.
 */
import { randomUUID } from 'node:crypto';
import type { Driver } from '../drivers/driver';
import { asHostwallError, RejectedError, StoppingError } from '../errors';
import type { IntentRequest } from '../host-state/instance-view';
import { capGroupOf, definitionOf, type Intent, instanceOf, lockKeysOf } from '../intents';
import { cutText } from '../limits/identifiers';
import { forIntent, type Logger, redact } from '../log';
import type { IssuerPolicy } from '../policy/issuer-policy';
import type { Serializer } from '../serializer/serializer';
import { isReplay } from '../store/replay-marks';
import type { InboundMessage, Settlement } from '../transport/transport';
import { type Admitted, admit } from './admission';
import { type IntentRunDeps, runIntent, keep } from './intent-run';
import type { DriverActionDeps } from './driver-actions';
import type { InstanceBook } from '../host-state/instance-book';
import { issuerOf, type OutcomeLedger } from './ledger';
import { LearntBindings } from '../host-state/learnt-bindings';
import { type ErrorInfo, errorInfo, type FinalOutcome } from './outcome';
import { type CountedByBroker, type DeliveryCount, refusalBackoffMs } from './poison';
import type { DispatchMetrics, EventSink, IntentHooks, SenderRecords, Wire, WireRequest } from './ports';
import type { WaitWatch } from './wait-watch';

export interface DispatcherDeps {
  wire: Wire;
  events: EventSink;
  serializer: Serializer;
  book: InstanceBook;
  /** The one door to the intent store. */
  ledger: OutcomeLedger;
  policy: IssuerPolicy;
  /** Deliveries of one unfinished message before it is dead-lettered as POISON. */
  poisonDeliveries: number;
  /** The consumed queues whose `x-delivery-count` the broker sets (poison.ts); none if unset. */
  countedByBroker?: CountedByBroker | undefined;
  exec: DriverActionDeps;
  log: Logger;
  /** Nova's records of its own requests (adapters/nova compute host), when kept. */
  records?: SenderRecords | undefined;
  /** Nova's instance_name_template (default instance-%08x). */
  novaInstanceNameTemplate?: string | undefined;
  /** Counters and durations (the worker's /metrics). */
  metrics?: DispatchMetrics | undefined;
  /** Lines while an intent waits for its lanes (and, through exec, its ports). */
  waits?: WaitWatch | undefined;
}

/** One intent of a message, final: run now (fresh) or answered from the record (duplicate). */
interface Finished {
  outcome: FinalOutcome;
  request: IntentRequest;
  fresh?: { published: Promise<unknown>; durable: boolean };
  duplicate?: { published: boolean };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** What a request's context says, as stored and published: cut to their bound (limits/identifiers.ts). */
export function intentRequestOf(intentId: string, context: Record<string, unknown>, issuer?: string): IntentRequest {
  return {
    intent_id: intentId,
    request_id: cutText(context.request_id),
    global_request_id: cutText(context.global_request_id),
    user_id: cutText(context.user_id) ?? cutText(context.user),
    project_id: cutText(context.project_id) ?? cutText(context.tenant),
    issuer: issuer ?? cutText(context.issuer),
  };
}

export class Dispatcher {
  private draining = false;
  /** What Nova's messages leave out and the worker has been told (host-state/learnt-bindings.ts). */
  readonly bindings: LearntBindings;

  constructor(private readonly deps: DispatcherDeps) {
    this.bindings = new LearntBindings(deps.book, undefined, deps.novaInstanceNameTemplate);
  }

  get driver(): Driver {
    return this.deps.exec.driver;
  }

  /**
   * The transport's handler: what to do with the delivery once every intent
   * of it is final ('ack'), could not be made final ('requeue'), or was not
   * started because the worker is draining ('leave'). Never rejects.
   */
  readonly onMessage = (msg: InboundMessage): Promise<Settlement> =>
    this.process(msg).catch((err: unknown): Settlement => {
      this.deps.log.error('message requeued for redelivery', { error: String(err), routing_key: msg.routingKey });
      return 'requeue';
    });

  /**
   * Graceful stop has begun: intents already running finish; intents that
   * have not started yet are not started (left unacked for the next run).
   */
  beginDrain(): void {
    this.draining = true;
  }

  private async process(msg: InboundMessage): Promise<Settlement> {
    const receivedAt = Date.now();
    let req: WireRequest | undefined;
    let admitted: Admitted;
    try {
      req = this.deps.wire.decode(msg);
      admitted = admit(msg, req, { policy: this.deps.policy, bindings: this.bindings, records: this.deps.records });
    } catch (err) {
      return this.refuse(msg, req, err);
    }
    const first = admitted.intents[0];
    const log = forIntent(this.deps.log, {
      intent_id: req.uniqueId ?? '', request_id: str(req.context.request_id), global_request_id: str(req.context.global_request_id),
      issuer: first?.issuer ?? str(req.context.issuer), instance_uuid: first ? instanceOf(first.intent) : undefined, kind: req.method,
    });
    if (admitted.ignored.length > 0) log.info('Nova inputs hostwall does not carry out', { method: req.method, ignored: admitted.ignored });
    const heartbeat = this.startHeartbeat(req.call, log);
    try {
      return await this.finish(msg, req, admitted, receivedAt);
    } finally {
      if (heartbeat) clearInterval(heartbeat);
    }
  }

  /**
   * Run (or answer from the record) every intent of an admitted message,
   * then reply and ack. The intents join their lanes synchronously, in
   * order; the message is acked only when every one is final and everything
   * they caused is confirmed. If the worker begins draining before one could
   * start, the message is left (it comes back; the intents that finished are
   * then answered from the record).
   */
  private async finish(msg: InboundMessage, req: WireRequest, admitted: Admitted, receivedAt: number): Promise<Settlement> {
    const again = isReplay(msg.headers) ? { replayed: true } : { redelivered: true };
    const plans = admitted.intents.map(({ intent, issuer, hooks }) => {
      const intentId = intent.args.intent_id ?? req.uniqueId ?? randomUUID().replace(/-/g, '');
      const request = intentRequestOf(intentId, req.context, issuer);
      const durable = definitionOf(intent.kind).scheduling !== 'read';
      const key = { intentId, kind: intent.kind, issuer: issuerOf(request) };
      return { intent, hooks, request, durable, key, prior: this.deps.ledger.lookup(key, durable) };
    });
    let count: DeliveryCount | undefined;
    if (plans.some((p) => p.prior === undefined || p.prior.kind === 'retry')) {
      try {
        count = this.deps.ledger.countDelivery(msg, this.deps.countedByBroker);
        if (count && count.deliveries > this.deps.poisonDeliveries) {
          throw new RejectedError('POISON', `delivered ${count.deliveries} times without finishing (limit ${this.deps.poisonDeliveries}): dead-lettered instead of tried again`, { deliveries: count.deliveries });
        }
      } catch (err) {
        return this.refuse(msg, req, err, plans[0]?.intent.kind, count);
      }
    }
    const finished: Promise<Finished | undefined>[] = plans.map(({ intent, hooks, request, durable, key, prior }) => {
      if (prior?.kind === 'running') return prior.outcome.then((o) => o && { outcome: o, request, duplicate: { published: true } });
      if (prior?.kind === 'finished') return Promise.resolve({ outcome: prior.outcome, request, duplicate: { published: prior.published } });
      const run = this.run(intent, request, { recovering: prior?.kind === 'retry', durable, receivedAt, hooks });
      this.deps.ledger.track(key, run.then((r) => r?.outcome));
      return run.then((r) => r && { outcome: r.outcome, request, fresh: { published: r.published, durable } });
    });
    const done = await Promise.all(finished);
    const outcomes: FinalOutcome[] = [];
    for (const d of done) {
      if (!d) return 'leave';
      outcomes.push(d.outcome);
    }
    for (const d of done) {
      if (!d) continue;
      if (d.fresh) {
        // Events, notifications and the reply must be confirmed before the ack; the mark that they
        // were need not be committed first (OutcomeLedger.published says why).
        await d.fresh.published;
        this.deps.ledger.published(d.outcome, issuerOf(d.request), d.fresh.durable);
      } else if (d.duplicate) {
        await this.republish(d.outcome, d.request, again, d.duplicate.published);
      }
      this.deps.metrics?.intentDone(d.outcome.kind, d.fresh ? d.outcome.status : 'duplicate', (Date.now() - receivedAt) / 1000);
    }
    if (req.call) await this.deps.wire.reply(req.call, this.replyFor(admitted, outcomes));
    if (count) await this.deps.ledger.forgetDelivery(count);
    return 'ack';
  }

  /**
   * Publish a recorded outcome again, flagged. Flagged even if its first
   * publication was never confirmed: that one may still have reached the
   * broker, and a consumer must be able to rely on at most one unflagged
   * outcome per intent.
   */
  private async republish(o: FinalOutcome, request: IntentRequest, flags: { redelivered?: boolean; replayed?: boolean }, published: boolean): Promise<void> {
    forIntent(this.deps.log, { ...request, intent_id: o.intentId, instance_uuid: o.instance?.uuid, kind: o.kind })
      .info('duplicate intent: recorded outcome published again, not applied', { status: o.status, ...flags });
    await this.deps.events.outcome(o, { ...request, intent_id: o.intentId }, flags);
    if (!published) this.deps.ledger.published(o, issuerOf(request), true);
  }

  /**
   * A native call's reply is its intent's outcome. A Nova call's is what the
   * Nova method returns, made from the results (null where it returns None),
   * or the first failure, in oslo's failure form.
   */
  private replyFor(admitted: Admitted, outcomes: FinalOutcome[]): { result: unknown } | { error: ErrorInfo } {
    const failed = outcomes.find((o) => o.status === 'failed');
    if (failed?.status === 'failed') return { error: failed.error };
    if (admitted.source === 'hostwall') {
      const [only] = outcomes;
      return only ? this.replyBody(only) : { result: null };
    }
    if (!admitted.reply) return { result: null };
    try {
      return { result: admitted.reply(outcomes.map((o) => (o.status === 'succeeded' ? o.result : undefined))) };
    } catch (err) {
      return { error: errorInfo(asHostwallError(err)) };
    }
  }

  /**
   * Dead-letter, announce and answer a refused message, then ack it. A
   * refusal that comes back (its dead letter could not be sent) is counted
   * like any unfinished message (poison.ts): past the limit it is
   * dead-lettered as POISON, and each return first waits a growing pause.
   */
  private async refuse(msg: InboundMessage, req: WireRequest | undefined, thrown: unknown, kind?: string, counted?: DeliveryCount): Promise<Settlement> {
    let err = thrown instanceof RejectedError ? thrown : new RejectedError('POISON', `could not process message: ${asHostwallError(thrown).message}`);
    const count = counted ?? this.deps.ledger.countDelivery(msg, this.deps.countedByBroker);
    const first = err;
    if (count && count.deliveries > this.deps.poisonDeliveries && err.code !== 'POISON') {
      err = new RejectedError('POISON', `refused ${count.deliveries} times without being dead-lettered (limit ${this.deps.poisonDeliveries}): ${first.code}: ${first.message}`, { deliveries: count.deliveries, first: first.code });
    }
    const ctx = req?.context ?? {};
    const facts = intentRequestOf(str(req?.uniqueId) ?? '', ctx);
    this.deps.log.warn(`rejected: ${err.message}`, {
      code: err.code, routing_key: msg.routingKey, method: req?.method ?? kind, intent_id: facts.intent_id || null, request_id: facts.request_id ?? null,
      global_request_id: facts.global_request_id ?? null, issuer: facts.issuer ?? null, instance_uuid: null, ...(count ? { deliveries: count.deliveries } : {}),
    });
    // Nova's record of the instance first: the API must not show a request hostwall refused as still running.
    if (req && req.namespace === undefined && this.deps.records) await this.deps.records.novaRefused(req, errorInfo(err));
    try {
      await Promise.all([
        this.deps.wire.deadLetter(msg, err, { ...(count ? { deliveries: count.deliveries } : {}), ...(first !== err ? { firstError: `${first.code}: ${first.message}` } : {}) }),
        this.deps.events.rejected(err, facts, { routingKey: msg.routingKey, method: req?.method }),
        req?.call ? this.deps.wire.reply(req.call, { error: errorInfo(err) }) : undefined,
      ]);
    } catch (e) {
      await new Promise((resolve) => setTimeout(resolve, refusalBackoffMs(count?.deliveries ?? 1)));
      throw e;
    }
    this.deps.metrics?.deadLettered(err.code);
    if (count) await this.deps.ledger.forgetDelivery(count);
    return 'ack';
  }

  private replyBody(o: FinalOutcome): { result: unknown } | { error: ErrorInfo } {
    return o.status === 'succeeded' ? { result: o.result } : { error: o.error };
  }

  /**
   * Schedule the intent on its lanes; resolves with the outcome and a promise
   * that settles when every event it caused is confirmed, or with undefined
   * when draining began before it could start.
   */
  private async run(
    intent: Intent, request: IntentRequest, o: { recovering: boolean; durable: boolean; receivedAt: number; hooks: IntentHooks | undefined },
  ): Promise<{ outcome: FinalOutcome; published: Promise<unknown> } | undefined> {
    const def = definitionOf(intent.kind);
    const instance = instanceOf(intent);
    const log = forIntent(this.deps.log, {
      intent_id: request.intent_id, request_id: request.request_id, global_request_id: request.global_request_id, issuer: request.issuer, instance_uuid: instance, kind: intent.kind,
    });
    const pubs: Promise<unknown>[] = [];
    keep(pubs, this.deps.events.accepted(intent.kind, request, instance));
    const deps: IntentRunDeps = { book: this.deps.book, events: this.deps.events, exec: this.deps.exec, intents: this.deps.ledger.records };
    const keys = lockKeysOf(intent);
    let started = false;
    let endWait: (() => void) | undefined;
    const running = this.deps.serializer.run(
      { id: request.intent_id, keys, capped: def.scheduling === 'mutate', group: capGroupOf(intent.kind) },
      async (releaseSlot) => {
        started = true;
        endWait?.();
        if (this.draining) return undefined;
        if (o.durable) {
          // On disk before the host is touched: a crash from here on is found and reconciled at restart.
          await this.deps.ledger.begin({
            intentId: request.intent_id, kind: intent.kind, issuer: issuerOf(request), instanceUuid: instanceOf(intent),
            args: JSON.stringify(redact(intent.args)), request: JSON.stringify(request), receivedAt: o.receivedAt,
          });
        }
        let out: FinalOutcome;
        try {
          out = await runIntent(intent, request, pubs, log, deps, { recovering: o.recovering, hooks: o.hooks });
        } catch (err) {
          if (!(err instanceof StoppingError)) throw err;
          // As after a crash: the 'started' record stays and is reconciled at the next start (recovery.ts); the message stays unacked.
          log.warn('interrupted by the worker\'s stop: no outcome recorded, left for redelivery', { error: err.message });
          return undefined;
        }
        // The host is done with; the next intent of these lanes still waits for the outcome's commit.
        releaseSlot();
        await this.deps.ledger.finish(out, issuerOf(request), o.durable);
        return out;
      },
    );
    // Not started at once: it waits behind earlier intents of its lanes, or for a slot.
    if (!started && this.deps.waits) endWait = this.waitLine(log, request.intent_id, keys);
    const outcome = await running;
    if (!outcome) return undefined;
    keep(pubs, this.deps.events.outcome(outcome, request, {}));
    return { outcome, published: Promise.all(pubs) };
  }

  /** Say (debug now, info while it lasts) what a waiting intent waits for: the intents ahead in its lanes, or a slot. */
  private waitLine(log: Logger, id: string, keys: readonly string[]): (() => void) | undefined {
    const serializer = this.deps.serializer;
    return this.deps.waits?.begin(log, 'debug', 'waiting for its turn', () => {
      const ahead = serializer.ahead(id, keys);
      return ahead.length > 0 ? { lanes: keys, behind: ahead } : { lanes: keys, behind: 'a free slot (concurrency)' };
    });
  }

  /** oslo's call-monitor heartbeats for the whole of a call, from admission to the reply. */
  private startHeartbeat(call: WireRequest['call'], log: Logger): NodeJS.Timeout | undefined {
    const every = call ? this.deps.wire.heartbeatEveryMs(call) : undefined;
    if (!call || every === undefined) return undefined;
    return setInterval(() => {
      this.deps.wire.heartbeat(call).catch((err: unknown) => log.warn('call heartbeat failed', { error: String(err) }));
    }, every);
  }
}
