/**
 * decode → limits → validate → admit (issuer) → dedupe → serialize → record
 * "started" → driver → record outcome → events → reply → ack.
 *
 * Contract with the broker (DESIGN §4): a message is acked only when its
 * outcome is final and recorded in the intent store, and everything it
 * caused (events, notifications, the reply, a dead letter) has been
 * confirmed by the broker. Any failure before that leaves it for redelivery,
 * and a redelivered or replayed intent whose outcome is recorded is answered
 * from the record (published again with `redelivered: true` or
 * `replayed: true`) instead of being applied twice.
 *
 * Ordering: everything between a delivery and its place in the serializer's
 * lanes is synchronous (store reads are synchronous), so intents join their
 * lanes in delivery order.
 */
import { randomUUID } from 'node:crypto';
import type { Driver } from '../drivers/driver';
import { asHostwallError, RejectedError } from '../errors';
import type { RequestFacts } from '../events/instance-facts';
import {
  definitionOf, INTENT_NAMESPACE, type Intent, instanceOf, isIntentKind, lockKeysOf, validateIntent,
} from '../intents';
import { forIntent, type Logger, redact } from '../log';
import type { IssuerPolicy } from '../policy/issuer-policy';
import type { Serializer } from '../serializer/serializer';
import type { IntentStore } from '../store/intent-store';
import { isReplay } from '../store/replay-marks';
import type { InboundMessage, Settlement } from '../transport/transport';
import { type ApplyDeps, applyIntent, keep } from './apply';
import type { ExecDeps } from './execute';
import type { InstanceBook } from './instance-book';
import type { OutcomeLedger } from './ledger';
import { type ErrorInfo, errorInfo, type FinalOutcome } from './outcome';
import { countDelivery, type DeliveryCount } from './poison';
import type { EventSink, Wire, WireRequest } from './ports';

export interface DispatcherDeps {
  wire: Wire;
  events: EventSink;
  serializer: Serializer;
  book: InstanceBook;
  ledger: OutcomeLedger;
  store: IntentStore;
  policy: IssuerPolicy;
  /** Deliveries of one unfinished message before it is dead-lettered as POISON. */
  poisonDeliveries: number;
  exec: ExecDeps;
  log: Logger;
}

/** 'leave': not started because the worker is draining; stays unacked and comes back when the channel closes. */
type Disposition = Settlement | 'leave';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function requestFacts(intentId: string, context: Record<string, unknown>, issuer?: string): RequestFacts {
  return {
    intent_id: intentId,
    request_id: str(context.request_id),
    global_request_id: str(context.global_request_id),
    user_id: str(context.user_id) ?? str(context.user),
    project_id: str(context.project_id) ?? str(context.tenant),
    issuer: issuer ?? str(context.issuer),
  };
}

export class Dispatcher {
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private draining = false;
  constructor(private readonly deps: DispatcherDeps) {}

  get driver(): Driver {
    return this.deps.exec.driver;
  }

  /** The transport's handler: never throws; every message ends settled, or left for redelivery. */
  readonly onMessage = (msg: InboundMessage): void => {
    this.inFlight++;
    this.process(msg)
      .then((how) => (how === 'leave' ? undefined : msg.settle(how)))
      .catch((err: unknown) => {
        this.deps.log.error('message left unsettled for redelivery', { error: String(err), routing_key: msg.routingKey });
        return msg.settle('requeue');
      })
      .catch(() => undefined)
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
  };

  /** Messages being processed (received, not yet settled or left). */
  get pending(): number {
    return this.inFlight;
  }

  /** Resolves when no message is in process. */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Graceful stop has begun: intents already running finish; intents that
   * have not started yet are not started (left unacked for the next run).
   */
  beginDrain(): void {
    this.draining = true;
  }

  private async process(msg: InboundMessage): Promise<Disposition> {
    const receivedAt = Date.now();
    let req: WireRequest | undefined;
    let intent: Intent;
    let issuer: string | undefined;
    try {
      req = this.deps.wire.decode(msg);
      ({ intent, issuer } = this.admit(msg, req));
    } catch (err) {
      return this.refuse(msg, req, err);
    }
    const intentId = intent.args.intent_id ?? req.uniqueId ?? randomUUID().replace(/-/g, '');
    const request = requestFacts(intentId, req.context, issuer);
    const again = isReplay(msg.headers) ? { replayed: true } : { redelivered: true };
    const prior = this.deps.ledger.lookup(intentId);
    if (prior?.kind === 'running') {
      const o = await prior.outcome;
      return o ? this.answer(o, request, req.call, again, true) : 'leave';
    }
    if (prior?.kind === 'finished') return this.answer(prior.outcome, request, req.call, again, prior.published);
    let count: DeliveryCount | undefined;
    try {
      count = countDelivery(msg, this.deps.store);
      if (count && count.deliveries > this.deps.poisonDeliveries) {
        throw new RejectedError('POISON', `delivered ${count.deliveries} times without finishing (limit ${this.deps.poisonDeliveries}): dead-lettered instead of tried again`, { deliveries: count.deliveries });
      }
    } catch (err) {
      return this.refuse(msg, req, err, intent.kind);
    }
    const durable = definitionOf(intent.kind).scheduling !== 'read';
    const run = this.run(intent, request, req.call, { recovering: prior?.kind === 'retry', durable, receivedAt });
    this.deps.ledger.track(intentId, run.then((r) => r?.outcome));
    const done = await run;
    if (!done) return 'leave';
    // Events, notifications and the reply must be confirmed before the ack.
    await done.published;
    await this.deps.ledger.published(done.outcome, durable);
    if (req.call) await this.deps.wire.reply(req.call, this.replyBody(done.outcome));
    if (count) await this.deps.store.forgetDelivery(count.fingerprint);
    return 'ack';
  }

  /** Namespace, issuer policy (before the schema: a refused issuer learns nothing about it), then the schema. */
  private admit(msg: InboundMessage, req: WireRequest): { intent: Intent; issuer: string | undefined } {
    if (req.namespace !== INTENT_NAMESPACE) {
      // oslo's dispatcher answers an unknown namespace with UnsupportedVersion.
      throw new RejectedError('UNSUPPORTED_VERSION', `Endpoint does not support RPC version ${req.version ?? '1.0'}. Attempted method: ${req.method} (namespace ${JSON.stringify(req.namespace ?? null)} is not served; intents use namespace "${INTENT_NAMESPACE}")`, { method: req.method, namespace: req.namespace ?? null });
    }
    let issuer: string | undefined;
    if (isIntentKind(req.method)) {
      const claimed = str(req.context.issuer);
      issuer = this.deps.policy.admit(req.method, { body: msg.body, headers: msg.headers, userId: msg.userId, claimed }).issuer;
    }
    return { intent: validateIntent(req.method, req.version, req.args), issuer };
  }

  /**
   * Publish a recorded outcome again, flagged, and answer a call with it.
   * Flagged even if its first publication was never confirmed: that one may
   * still have reached the broker, and a consumer must be able to rely on at
   * most one unflagged outcome per intent.
   */
  private async answer(o: FinalOutcome, request: RequestFacts, call: WireRequest['call'], flags: { redelivered?: boolean; replayed?: boolean }, published: boolean): Promise<Disposition> {
    this.deps.log.info('duplicate intent: recorded outcome published again, not applied', { intent_id: o.intentId, request_id: request.request_id, kind: o.kind, status: o.status, ...flags });
    await Promise.all([
      this.deps.events.outcome(o, { ...request, intent_id: o.intentId }, flags),
      call ? this.deps.wire.reply(call, this.replyBody(o)) : undefined,
    ]);
    if (!published) await this.deps.ledger.published(o, true);
    return 'ack';
  }

  private async refuse(msg: InboundMessage, req: WireRequest | undefined, thrown: unknown, kind?: string): Promise<Disposition> {
    const err = thrown instanceof RejectedError ? thrown : new RejectedError('POISON', `could not process message: ${asHostwallError(thrown).message}`);
    const ctx = req?.context ?? {};
    const facts = requestFacts(str(req?.uniqueId) ?? '', ctx);
    this.deps.log.warn(`rejected: ${err.message}`, { code: err.code, routing_key: msg.routingKey, method: req?.method ?? kind, intent_id: facts.intent_id || null, request_id: facts.request_id ?? null });
    await Promise.all([
      this.deps.wire.deadLetter(msg, err),
      this.deps.events.rejected(err, facts, { routingKey: msg.routingKey, method: req?.method }),
      req?.call ? this.deps.wire.reply(req.call, { error: errorInfo(err) }) : undefined,
    ]);
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
    intent: Intent, request: RequestFacts, call: WireRequest['call'], o: { recovering: boolean; durable: boolean; receivedAt: number },
  ): Promise<{ outcome: FinalOutcome; published: Promise<unknown> } | undefined> {
    const def = definitionOf(intent.kind);
    const log = forIntent(this.deps.log, { intent_id: request.intent_id, request_id: request.request_id, kind: intent.kind });
    const pubs: Promise<unknown>[] = [];
    keep(pubs, this.deps.events.accepted(intent.kind, request, instanceOf(intent)));
    const heartbeat = this.startHeartbeat(call, log);
    const deps: ApplyDeps = { book: this.deps.book, events: this.deps.events, exec: this.deps.exec };
    try {
      const outcome = await this.deps.serializer.run(
        { id: request.intent_id, keys: lockKeysOf(intent), capped: def.scheduling === 'mutate' },
        async () => {
          if (this.draining) return undefined;
          if (o.durable) {
            // On disk before the host is touched: a crash from here on is found and reconciled at restart.
            await this.deps.ledger.begin({
              intentId: request.intent_id, kind: intent.kind, instanceUuid: instanceOf(intent),
              args: JSON.stringify(redact(intent.args)), request: JSON.stringify(request), receivedAt: o.receivedAt,
            });
          }
          const out = await applyIntent(intent, request, pubs, log, deps, { recovering: o.recovering });
          await this.deps.ledger.finish(out, o.durable);
          return out;
        },
      );
      if (!outcome) {
        return undefined;
      }
      keep(pubs, this.deps.events.outcome(outcome, request, {}));
      return { outcome, published: Promise.all(pubs) };
    } finally {
      if (heartbeat) clearInterval(heartbeat);
    }
  }

  private startHeartbeat(call: WireRequest['call'], log: Logger): NodeJS.Timeout | undefined {
    const every = call ? this.deps.wire.heartbeatEveryMs(call) : undefined;
    if (!call || every === undefined) return undefined;
    return setInterval(() => {
      this.deps.wire.heartbeat(call).catch((err: unknown) => log.warn('call heartbeat failed', { error: String(err) }));
    }, every);
  }
}
