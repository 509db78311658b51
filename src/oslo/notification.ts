/**
 * oslo.messaging notifications (docs/oslo-wire.md#notifications; notify/notifier.py `_notify` and the
 * `messagingv2` driver).
 *
 * One notify call gives one message per topic, each published on the control
 * exchange with routing key `<topic>.<priority lowercased>`; all share the
 * `message_id` (uuid4 with dashes) and each has its own `_unique_id`. The
 * context is sanitized with the notifier's allow-list first: auth tokens,
 * passwords and service catalogs never reach the notification bus.
 */
import { z } from 'zod';
import type { OutboundMessage } from '../transport/transport';
import type { OsloMessage } from './envelope';
import { uuid4, uuid4Hex } from './ids';
import { osloOutbound } from './outbound';
import { CONTEXT_PREFIX } from './rpc-request';

/** oslo's Notifier methods; `warning()` and `warn()` both send WARN. */
export const NotificationPrioritySchema = z.enum(['audit', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'sample']);
export type NotificationPriority = z.infer<typeof NotificationPrioritySchema>;

/** The upper-case `priority` field. */
export function priorityField(p: NotificationPriority): string {
  return p === 'warning' ? 'WARN' : p.toUpperCase();
}

/** `<topic>.<priority lowercased>`: the routing key, and the name of the queue the notifier declares. */
export function notificationRoutingKey(topic: string, p: NotificationPriority): string {
  return `${topic}.${priorityField(p).toLowerCase()}`;
}

/** notifier.py `_sanitize_context`: the keys that survive, in RequestContext order. */
export const NOTIFICATION_CONTEXT_KEYS: readonly string[] = [
  'user_id', 'project_id', 'domain_id', 'user_domain_id', 'project_domain_id', 'is_admin', 'request_id',
  'roles', 'user_name', 'project_name', 'domain_name', 'user_domain_name', 'project_domain_name',
  'service_user_id', 'service_user_domain_id', 'service_user_domain_name', 'service_project_id',
  'service_project_name', 'service_project_domain_id', 'service_project_domain_name', 'service_roles',
  'global_request_id', 'system_scope',
  // renamed in oslo.context but still seen in notifications
  'user', 'domain', 'user_domain', 'project_domain',
];
const ALLOWED = new Set(NOTIFICATION_CONTEXT_KEYS);

export function sanitizeNotificationContext(ctx: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ctx)) if (ALLOWED.has(k)) out[k] = v;
  return out;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * `str(timeutils.utcnow())`: "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, no zone,
 * and no fraction at all when the microseconds are zero (Python's str(datetime)).
 * `micros` (0-999) adds sub-millisecond precision the Date cannot hold.
 */
export function osloTimestamp(d: Date, micros = 0): string {
  const base =
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const us = d.getUTCMilliseconds() * 1000 + Math.trunc(micros);
  return us === 0 ? base : `${base}.${pad(us, 6)}`;
}

/** Parse oslo's timestamp (either form, UTC); undefined if it is not one. Sub-millisecond digits are dropped. */
export function parseOsloTimestamp(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, da, h, mi, se, frac] = m;
  const ms = frac ? Math.trunc(Number(frac.padEnd(6, '0')) / 1000) : 0;
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(se), ms);
  return Number.isNaN(t) ? undefined : new Date(t);
}

export const NotificationInputSchema = z.object({
  publisherId: z.string().min(1),
  eventType: z.string().min(1),
  priority: NotificationPrioritySchema,
  payload: z.unknown(),
  context: z.record(z.string(), z.unknown()).default({}),
  /** Shared by every topic of one notify call; generated when absent. */
  messageId: z.string().optional(),
  at: z.date().optional(),
});
export type NotificationInput = z.input<typeof NotificationInputSchema>;

/** The inner message, in the notifier's key order; a fresh `_unique_id` on every call. */
export function buildNotification(input: NotificationInput): OsloMessage {
  return messageOf(NotificationInputSchema.parse(input));
}

/** The inner message from an already-validated input. */
function messageOf(n: z.output<typeof NotificationInputSchema>): OsloMessage {
  return notificationMessage(n, n.messageId ?? uuid4(), osloTimestamp(n.at ?? new Date()), contextFields(n.context));
}

/** The sanitized context as the notifier flattens it into the message: `_context_<key>`. */
function contextFields(context: Record<string, unknown>): [string, unknown][] {
  return Object.entries(sanitizeNotificationContext(context)).map(([k, v]) => [`${CONTEXT_PREFIX}${k}`, v]);
}

function notificationMessage(
  n: z.output<typeof NotificationInputSchema>,
  messageId: string,
  timestamp: string,
  context: readonly [string, unknown][],
): OsloMessage {
  const message: OsloMessage = {
    message_id: messageId,
    publisher_id: n.publisherId,
    event_type: n.eventType,
    priority: priorityField(n.priority),
    payload: n.payload ?? null,
    timestamp,
    _unique_id: uuid4Hex(),
  };
  for (const [k, v] of context) message[k] = v;
  return message;
}

/**
 * One message per topic, as the `messagingv2` (or legacy `messaging`) driver
 * publishes them: same message_id and timestamp, distinct `_unique_id`.
 */
export function notificationMessages(
  opts: { exchange: string; topics: readonly string[]; format?: 'v2' | 'v1' },
  input: NotificationInput,
): OutboundMessage[] {
  const n = NotificationInputSchema.parse(input);
  // What the topics share is worked out once per notify call, not once per topic.
  const messageId = n.messageId ?? uuid4();
  const timestamp = osloTimestamp(n.at ?? new Date());
  const context = contextFields(n.context);
  const format = opts.format ?? 'v2';
  return opts.topics.map((topic) =>
    osloOutbound({
      exchange: opts.exchange,
      routingKey: notificationRoutingKey(topic, n.priority),
      message: notificationMessage(n, messageId, timestamp, context),
      format,
    }),
  );
}
