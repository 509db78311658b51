/**
 * The transport's messages ↔ AMQP 1.0 messages (rhea's shape).
 *
 * Outbound, as oslo needs it over RabbitMQ (docs/oslo-wire.md#amqp-10-addresses): the body in ONE
 * `data` section (an amqp-value body reaches 0-9-1 consumers AMQP-encoded and
 * oslo drops it), content_type and content_encoding set, durable (→
 * delivery_mode 2), priority 0, ttl = expirationMs (→ `expiration`), subject =
 * routing key, headers → application-properties.
 *
 * Inbound: subject (or RabbitMQ 4's `x-routing-key` annotation) → routingKey,
 * `x-exchange` annotation → exchange ("" when the broker does not say: 3.x
 * never does), application-properties → headers, user_id → userId,
 * delivery-count > 0 or first-acquirer false → redelivered.
 *
 * Known loss on RabbitMQ 3.x (measured on 3.10.8): headers of a message
 * published over 0-9-1 do not reach a 1.0 consumer at all, and the
 * application-properties of a message published over 1.0 reach a 0-9-1
 * consumer only inside the header `x-amqp-1.0-app-properties`, an
 * AMQP-encoded section typed as a long string — which amqplib decodes as
 * UTF-8, destroying every byte ≥ 0x80 (the type codes). Headers survive 1.0 →
 * 1.0 and 0-9-1 → 0-9-1 only: read what a 1.0 worker wrote (dead letters)
 * over 1.0.
 */
// rhea exports a Container instance whose functions live on its prototype: a namespace import (__importStar) would drop them.
import rhea = require('rhea');
import type { OutboundMessage } from '../transport';
import type { Route } from './addresses';

type Simple = string | number | boolean | null | Buffer;

/**
 * AMQP 1.0 application-properties may hold only simple values (no maps or
 * lists): anything else (a nested 0-9-1 table, a Date, a bigint) travels as
 * its JSON text rather than being refused.
 */
export function applicationProperties(headers: Record<string, unknown> | undefined): Record<string, Simple> {
  const out: Record<string, Simple> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || Buffer.isBuffer(v)) out[k] = v;
    else if (typeof v === 'number') out[k] = Number.isFinite(v) ? v : String(v);
    else if (typeof v === 'bigint') out[k] = v.toString();
    else out[k] = JSON.stringify(v);
  }
  return out;
}

/** The rhea message for one publish along `route`. */
export function outboundMessage(msg: OutboundMessage, route: Route): rhea.Message {
  const json = /^application\/json\b/i.test(msg.contentType);
  const encoding = msg.contentEncoding ?? (json ? 'utf-8' : undefined);
  const props = applicationProperties(msg.headers);
  return {
    body: rhea.message.data_section(msg.body),
    content_type: msg.contentType,
    ...(encoding !== undefined ? { content_encoding: encoding } : {}),
    durable: true,
    priority: 0,
    subject: route.subject,
    ...(route.to !== undefined ? { to: route.to } : {}),
    ...(msg.expirationMs !== undefined ? { ttl: Math.max(0, Math.round(msg.expirationMs)) } : {}),
    ...(Object.keys(props).length > 0 ? { application_properties: props } : {}),
  };
}

export interface InboundFields {
  body: Buffer;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  userId: string | undefined;
  redelivered: boolean;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : {};
}

/** rhea's body Section (not exported by its typings): data (0x75) and amqp-sequence (0x76) sections. */
interface BodySection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

function isSection(v: unknown): v is BodySection {
  return typeof v === 'object' && v !== null && 'typecode' in v && typeof v.typecode === 'number' && 'content' in v;
}

const DATA = 0x75;

/**
 * The body as bytes. One or more data sections are the bytes themselves; an
 * amqp-value string is its UTF-8; any other value (or a sequence) is its JSON,
 * so a decoder above sees something rather than nothing.
 */
export function bodyBytes(body: unknown): Buffer {
  if (isSection(body)) {
    if (body.typecode === DATA) {
      const parts = body.multiple && Array.isArray(body.content) ? body.content : [body.content];
      return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(String(p)))));
    }
    return Buffer.from(JSON.stringify(body.content));
  }
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

function userIdOf(v: unknown): string | undefined {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return str(v); // RabbitMQ 3.x sends user_id as a string, not as binary
}

export function inboundFields(m: rhea.Message): InboundFields {
  const annotations = record(m.message_annotations);
  const deliveryCount = typeof m.delivery_count === 'number' ? m.delivery_count : 0;
  return {
    body: bodyBytes(m.body),
    contentType: str(m.content_type),
    contentEncoding: str(m.content_encoding),
    exchange: str(annotations['x-exchange']) ?? '',
    routingKey: str(annotations['x-routing-key']) ?? str(m.subject) ?? '',
    headers: { ...record(m.application_properties) },
    userId: userIdOf(m.user_id),
    // rhea reports first_acquirer only when the header section is present; RabbitMQ sends it.
    redelivered: deliveryCount > 0 || m.first_acquirer === false,
  };
}
