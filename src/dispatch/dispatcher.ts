/**
 * decode → validate → dedupe → serialize → driver → events → reply → settle.
 *
 * Contract with the broker (DESIGN §4): a message is acked only when its
 * outcome is final and everything it caused (events, notifications, the
 * reply, a dead letter) has been confirmed by the broker. Any failure before
 * that leaves it unacked (requeued), and a redelivery is answered from the
 * recorded outcome instead of being applied twice.
 */
import { randomUUID } from 'node:crypto';
import type { Driver } from '../drivers/driver';
import { asHostwallError, HostwallError, RejectedError } from '../errors';
import type { InstanceFacts, RequestFacts } from '../events/instance-facts';
import {
  definitionOf, INTENT_NAMESPACE, type Intent, instanceOf, lockKeysOf, validateIntent,
} from '../intents';
import { forIntent, type Logger } from '../log';
import type { Serializer } from '../serializer/serializer';
import type { InboundMessage, Settlement } from '../transport/transport';
import type { RecentOutcomes } from './dedupe';
import { type ExecDeps, type ExecResult, execute } from './execute';
import { type InstanceBook, taskStateFor } from './instance-book';
import { type ErrorInfo, errorInfo, type FinalOutcome } from './outcome';
import type { EventSink, Wire, WireRequest } from './ports';

export interface DispatcherDeps {
  wire: Wire;
  events: EventSink;
  serializer: Serializer;
  book: InstanceBook;
  recent: RecentOutcomes<FinalOutcome>;
  exec: ExecDeps;
  log: Logger;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function requestFacts(intentId: string, context: Record<string, unknown>): RequestFacts {
  return {
    intent_id: intentId,
    request_id: str(context.request_id),
    global_request_id: str(context.global_request_id),
    user_id: str(context.user_id) ?? str(context.user),
    project_id: str(context.project_id) ?? str(context.tenant),
    issuer: str(context.issuer),
  };
}

export class Dispatcher {
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  constructor(private readonly deps: DispatcherDeps) {}

  get driver(): Driver {
    return this.deps.exec.driver;
  }

  /** The transport's handler: never throws; every message ends settled or left for redelivery. */
  readonly onMessage = (msg: InboundMessage): void => {
    this.inFlight++;
    this.process(msg)
      .then((how) => msg.settle(how))
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

  /** Messages being processed (received, not yet settled). */
  get pending(): number {
    return this.inFlight;
  }

  /** Resolves when no message is in process. */
  idle(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  private async process(msg: InboundMessage): Promise<Settlement> {
    let req: WireRequest | undefined;
    let intent: Intent;
    try {
      req = this.deps.wire.decode(msg);
      intent = this.toIntent(req);
    } catch (err) {
      return this.refuse(msg, req, err);
    }
    const intentId = intent.args.intent_id ?? req.uniqueId ?? randomUUID().replace(/-/g, '');
    const request = requestFacts(intentId, req.context);
    const prior = this.deps.recent.lookup(intentId);
    if (prior !== undefined) {
      const o = await prior;
      this.deps.log.info('duplicate intent: recorded outcome published again, not applied', { intent_id: intentId, request_id: request.request_id, kind: o.kind, status: o.status });
      await Promise.all([
        this.deps.events.outcome(o, request, { redelivered: true }),
        req.call ? this.deps.wire.reply(req.call, this.replyBody(o)) : undefined,
      ]);
      return 'ack';
    }
    const run = this.run(intent, request, req.call);
    this.deps.recent.track(intentId, run.then((r) => r.outcome));
    const { outcome, published } = await run;
    // Events, notifications and the reply must be confirmed before the ack.
    await published;
    if (req.call) await this.deps.wire.reply(req.call, this.replyBody(outcome));
    return 'ack';
  }

  private toIntent(req: WireRequest): Intent {
    if (req.namespace !== INTENT_NAMESPACE) {
      // oslo's dispatcher answers an unknown namespace with UnsupportedVersion.
      throw new RejectedError('UNSUPPORTED_VERSION', `Endpoint does not support RPC version ${req.version ?? '1.0'}. Attempted method: ${req.method} (namespace ${JSON.stringify(req.namespace ?? null)} is not served; intents use namespace "${INTENT_NAMESPACE}")`, { method: req.method, namespace: req.namespace ?? null });
    }
    return validateIntent(req.method, req.version, req.args);
  }

  private async refuse(msg: InboundMessage, req: WireRequest | undefined, thrown: unknown): Promise<Settlement> {
    const err = thrown instanceof RejectedError ? thrown : new RejectedError('POISON', `could not process message: ${asHostwallError(thrown).message}`);
    const ctx = req?.context ?? {};
    const facts = requestFacts(str(req?.uniqueId) ?? '', ctx);
    this.deps.log.warn(`rejected: ${err.message}`, { code: err.code, routing_key: msg.routingKey, method: req?.method, intent_id: facts.intent_id || null, request_id: facts.request_id ?? null });
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
   * Schedule the intent on its lanes; resolves with the outcome, and with a
   * promise that settles when every event it caused is confirmed.
   */
  private async run(intent: Intent, request: RequestFacts, call: WireRequest['call']): Promise<{ outcome: FinalOutcome; published: Promise<unknown> }> {
    const def = definitionOf(intent.kind);
    const log = forIntent(this.deps.log, { intent_id: request.intent_id, request_id: request.request_id, kind: intent.kind });
    const pubs: Promise<unknown>[] = [this.deps.events.accepted(intent.kind, request, instanceOf(intent))];
    const heartbeat = this.startHeartbeat(call, log);
    try {
      const outcome = await this.deps.serializer.run(
        { id: request.intent_id, keys: lockKeysOf(intent), capped: def.scheduling === 'mutate' },
        () => this.apply(intent, request, pubs, log),
      );
      pubs.push(this.deps.events.outcome(outcome, request, {}));
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

  /** Runs inside the intent's lanes: the only place the host is changed. */
  private async apply(intent: Intent, request: RequestFacts, pubs: Promise<unknown>[], log: Logger): Promise<FinalOutcome> {
    const { book, events } = this.deps;
    const uuid = instanceOf(intent);
    const now = () => new Date().toISOString();
    const changes = definitionOf(intent.kind).scheduling === 'mutate' && uuid !== undefined;
    if (changes) {
      const facts = intent.kind === 'instance.spawn' ? book.fromSpawn(intent.args, now(), request) : book.ensure(uuid);
      facts.task_state = taskStateFor(intent);
      pubs.push(events.novaPhase(intent, 'start', structuredClone(facts), request));
    }
    const started = Date.now();
    let res: ExecResult;
    try {
      res = await execute(intent, { ...this.deps.exec, log });
    } catch (thrown) {
      const err = asHostwallError(thrown);
      const info = errorInfo(err);
      log.warn(`failed: ${err.message}`, { code: err.code, duration_ms: Date.now() - started });
      let facts: InstanceFacts | undefined;
      if (changes) {
        if (intent.kind === 'instance.spawn') book.markError(uuid);
        else book.setTask(uuid, null);
        facts = book.snapshot(uuid);
        if (facts) pubs.push(events.novaPhase(intent, 'error', facts, request, info));
      }
      if (err instanceof HostwallError && err.code === 'INSTANCE_NOT_FOUND' && uuid) book.markDeleted(uuid, now());
      return { status: 'failed', intentId: request.intent_id, kind: intent.kind, error: info, instance: facts };
    }
    let facts: InstanceFacts | undefined;
    if (uuid && res.deleted) {
      facts = book.markDeleted(uuid, now());
    } else if (uuid && res.guest) {
      if (changes) book.setTask(uuid, null);
      book.observe(uuid, res.guest.power_state, res.guest.name);
      if (changes) {
        this.trackDevices(intent, res);
        const f = book.get(uuid);
        if (f && intent.kind === 'instance.spawn') f.launched_at = now();
      }
      facts = book.snapshot(uuid);
    }
    if (changes && facts) {
      pubs.push(events.novaPhase(intent, 'end', facts, request));
      pubs.push(events.instanceState(facts, request, 'intent'));
    }
    log.info('succeeded', { duration_ms: Date.now() - started, power_state: facts?.power_state, live: res.live });
    return { status: 'succeeded', intentId: request.intent_id, kind: intent.kind, result: this.result(intent, request, res, facts), instance: facts };
  }

  private trackDevices(intent: Intent, res: ExecResult): void {
    const uuid = instanceOf(intent);
    const f = uuid ? this.deps.book.get(uuid) : undefined;
    if (!f) return;
    switch (intent.kind) {
      case 'volume.attach':
        f.volumes = [...f.volumes.filter((v) => v.volume_id !== intent.args.volume_id), { volume_id: intent.args.volume_id, device: res.device }];
        break;
      case 'volume.detach':
        f.volumes = f.volumes.filter((v) => v.volume_id !== intent.args.volume_id);
        break;
      case 'port.plug':
        f.ports = [...f.ports.filter((p) => p.port_id !== intent.args.port.port_id), intent.args.port];
        break;
      case 'port.unplug':
        f.ports = f.ports.filter((p) => p.port_id !== intent.args.port_id);
        break;
      default:
    }
  }

  /** The reply body of a call (REPLY_SCHEMAS). */
  private result(intent: Intent, request: RequestFacts, res: ExecResult, facts: InstanceFacts | undefined): unknown {
    if (res.value !== undefined) {
      return intent.kind === 'port.ready' ? { intent_id: request.intent_id, kind: intent.kind, outcome: 'succeeded', ...(res.value as object) } : res.value;
    }
    const instance = facts ? { instance_uuid: facts.uuid, power_state: facts.power_state, vm_state: facts.vm_state, task_state: facts.task_state } : undefined;
    if (intent.kind === 'instance.get_state') return instance;
    return {
      intent_id: request.intent_id,
      kind: intent.kind,
      outcome: 'succeeded',
      ...(instance ? { instance } : {}),
      ...(res.live !== undefined ? { live: res.live } : {}),
      ...(res.device !== undefined ? { device: res.device } : {}),
      ...(res.forced !== undefined ? { forced: res.forced } : {}),
      ...(res.existed !== undefined ? { existed: res.existed } : {}),
    };
  }
}
