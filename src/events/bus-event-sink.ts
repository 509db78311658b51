/**
 * Publishes what the dispatcher reports: native events on `hostwall.events`
 * and Nova's notifications on the control exchange. Every method resolves
 * only when the broker confirmed every message it sent, so the dispatcher can
 * ack the intent after awaiting them (and must not before).
 *
 * A message the broker did not confirm (the connection dropped before its
 * confirm, a nack, a confirm timeout) is published again, after the
 * transport reconnects, for up to `eventRetryMs`. Giving up leaves the intent
 * to redelivery, which is answered from the intent store with the outcome
 * alone: without the retry, a dropped connection would lose the first run's
 * Nova notifications and instance.state for good. A retried outcome is
 * flagged `redelivered`, since the first copy may have reached the broker
 * and at most one unflagged outcome may exist; other messages are re-sent as
 * they were (same oslo message_id, same bytes).
 */
import type { Config } from '../config';
import type { ErrorInfo, FinalOutcome } from '../dispatch/outcome';
import type { EventSink, InstanceStateCause, NovaPhase } from '../dispatch/ports';
import type { RejectedError } from '../errors';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import { instanceState, intentAccepted, intentOutcome, intentRejected, routingKeyOf } from './native';
import { type NotificationSettings, NotificationSettings as Settings, novaNotificationsWith } from './nova-notification';
import { EVENTS_EXCHANGE, type HostwallEvent } from './schemas';
import type { Intent, IntentKind } from '../intents';
import type { Logger } from '../log';
import { notificationMessages } from '../oslo/notification';
import type { OutboundMessage, Transport } from '../transport/transport';

export class BusEventSink implements EventSink {
  private readonly origin: { host: string };
  private readonly settings: NotificationSettings;
  private closed = false;
  /** Told of every instance.state before it is published (the Nova compute host's power sync); must not throw. */
  onInstanceState: ((facts: InstanceView, req: IntentRequest, cause: InstanceStateCause) => void) | undefined;
  /** Publishes tried again, and publishes given up on (the intent left for redelivery), since start: for /metrics. */
  readonly counts = { retries: 0, givenUp: 0 };
  /** Retries waiting for their next attempt; close() wakes them to give up. */
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly transport: Transport,
    private readonly config: Pick<Config, 'host' | 'controlExchange' | 'notificationFormat' | 'eventRetryMs' | 'novaNotifications'>,
    private readonly log: Logger,
  ) {
    this.origin = { host: config.host };
    this.settings = Settings.parse({ notification_format: config.notificationFormat });
  }

  accepted(kind: IntentKind, req: IntentRequest, instance: string | undefined): Promise<void> {
    return this.native(intentAccepted(kind, req, instance, this.origin));
  }

  async novaPhase(intent: Intent, phase: NovaPhase, facts: InstanceView, req: IntentRequest, error?: ErrorInfo): Promise<void> {
    // oslo's notification driver unset or noop (Nova's default): Nova sends nothing, nor does hostwall.
    if (!this.config.novaNotifications) return;
    const outs = novaNotificationsWith({ intent, phase, facts, request: req, ...(error ? { fault: error } : {}) }, this.settings);
    const context = { request_id: req.request_id, global_request_id: req.global_request_id, user_id: req.user_id, project_id: req.project_id };
    await Promise.all(
      outs.flatMap((o) =>
        notificationMessages(
          { exchange: this.config.controlExchange, topics: o.topics },
          { publisherId: o.notification.publisher_id, eventType: o.notification.event_type, priority: o.notification.priority === 'ERROR' ? 'error' : 'info', payload: o.notification.payload, context },
        ).map((m) => this.deliver(() => m)),
      ),
    );
  }

  instanceState(facts: InstanceView, req: IntentRequest, cause: InstanceStateCause): Promise<void> {
    this.onInstanceState?.(facts, req, cause);
    return this.native(instanceState(facts, req, cause, this.origin));
  }

  outcome(o: FinalOutcome, req: IntentRequest, flags: { redelivered?: boolean; replayed?: boolean }): Promise<void> {
    return this.deliver((retry) => {
      const f = retry && !flags.replayed ? { ...flags, redelivered: true } : flags;
      return nativeMessage(intentOutcome({ ...o, instance: o.instance }, req, f, this.origin));
    });
  }

  rejected(err: RejectedError, req: Partial<IntentRequest>, original: { routingKey: string; method: string | undefined }): Promise<void> {
    return this.native(intentRejected(err, req, original, this.origin));
  }

  /** Stop retrying: waiting retries give up now (the worker is stopping). */
  close(): void {
    this.closed = true;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  private native(event: HostwallEvent): Promise<void> {
    const msg = nativeMessage(event);
    return this.deliver(() => msg);
  }

  /** Publish until confirmed, for up to eventRetryMs; `build(true)` makes the copy for a retry. */
  private async deliver(build: (retry: boolean) => OutboundMessage): Promise<void> {
    let msg = build(false);
    const giveUpAt = Date.now() + this.config.eventRetryMs;
    let waitMs = RETRY_FIRST_MS;
    for (;;) {
      try {
        await this.transport.publish(msg);
        return;
      } catch (err) {
        if (this.closed || Date.now() + waitMs > giveUpAt) {
          this.counts.givenUp++;
          this.log.warn('event publish not confirmed: the intent is left for redelivery', { routing_key: msg.routingKey, error: String(err) });
          throw err;
        }
        this.counts.retries++;
        this.log.warn('event publish not confirmed: publishing it again', { routing_key: msg.routingKey, error: String(err), retry_in_ms: waitMs });
        await this.sleep(waitMs);
        waitMs = Math.min(waitMs * 2, RETRY_MAX_MS);
        msg = build(true);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

function nativeMessage(event: HostwallEvent): OutboundMessage {
  return { exchange: EVENTS_EXCHANGE, routingKey: routingKeyOf(event), body: Buffer.from(JSON.stringify(event)), contentType: 'application/json', contentEncoding: 'utf-8' };
}
