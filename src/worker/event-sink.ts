/**
 * Publishes what the dispatcher reports: native events on `hostwall.events`
 * and Nova's notifications on the control exchange. Every method resolves
 * only when the broker confirmed every message it sent, so the dispatcher can
 * ack the intent after awaiting them (and must not before).
 */
import type { Config } from '../config';
import type { ErrorInfo, FinalOutcome } from '../dispatch/outcome';
import type { EventSink, NovaPhase } from '../dispatch/ports';
import type { RejectedError } from '../errors';
import type { InstanceFacts, RequestFacts } from '../events/instance-facts';
import { instanceState, intentAccepted, intentOutcome, intentRejected, routingKeyOf } from '../events/native';
import { type NotificationSettings, NotificationSettings as Settings, novaNotificationsWith } from '../events/nova-notification';
import { EVENTS_EXCHANGE, type HostwallEvent } from '../events/schemas';
import type { Intent, IntentKind } from '../intents';
import type { Logger } from '../log';
import { notificationMessages } from '../oslo/notification';
import type { Transport } from '../transport/transport';

export class BusEventSink implements EventSink {
  private readonly origin: { host: string };
  private readonly settings: NotificationSettings;

  constructor(
    private readonly transport: Transport,
    private readonly config: Pick<Config, 'host' | 'controlExchange' | 'notificationFormat'>,
    private readonly log: Logger,
  ) {
    this.origin = { host: config.host };
    this.settings = Settings.parse({ notification_format: config.notificationFormat });
  }

  accepted(kind: IntentKind, req: RequestFacts, instance: string | undefined): Promise<void> {
    return this.native(intentAccepted(kind, req, instance, this.origin));
  }

  async novaPhase(intent: Intent, phase: NovaPhase, facts: InstanceFacts, req: RequestFacts, error?: ErrorInfo): Promise<void> {
    const outs = novaNotificationsWith({ intent, phase, facts, request: req, ...(error ? { fault: error } : {}) }, this.settings);
    const context = { request_id: req.request_id, global_request_id: req.global_request_id, user_id: req.user_id, project_id: req.project_id };
    await Promise.all(
      outs.flatMap((o) =>
        notificationMessages(
          { exchange: this.config.controlExchange, topics: o.topics },
          { publisherId: o.notification.publisher_id, eventType: o.notification.event_type, priority: o.notification.priority === 'ERROR' ? 'error' : 'info', payload: o.notification.payload, context },
        ).map((m) => this.confirm(this.transport.publish(m), m.routingKey)),
      ),
    );
  }

  instanceState(facts: InstanceFacts, req: RequestFacts, cause: 'intent' | 'hypervisor' | 'reconcile'): Promise<void> {
    return this.native(instanceState(facts, req, cause, this.origin));
  }

  outcome(o: FinalOutcome, req: RequestFacts, flags: { redelivered?: boolean; replayed?: boolean }): Promise<void> {
    return this.native(intentOutcome({ ...o, instance: o.instance }, req, flags, this.origin));
  }

  rejected(err: RejectedError, req: Partial<RequestFacts>, original: { routingKey: string; method: string | undefined }): Promise<void> {
    return this.native(intentRejected(err, req, original, this.origin));
  }

  private native(event: HostwallEvent): Promise<void> {
    const routingKey = routingKeyOf(event);
    return this.confirm(
      this.transport.publish({ exchange: EVENTS_EXCHANGE, routingKey, body: Buffer.from(JSON.stringify(event)), contentType: 'application/json', contentEncoding: 'utf-8' }),
      routingKey,
    );
  }

  private async confirm(p: Promise<unknown>, routingKey: string): Promise<void> {
    try {
      await p;
    } catch (err) {
      this.log.warn('event publish not confirmed', { routing_key: routingKey, error: String(err) });
      throw err;
    }
  }
}
