/**
 * Whether a publish can fit at all, checked before it is sent.
 *
 * Two limits a message can break for good, and what breaking them costs:
 * - the broker's max message size (RabbitMQ `max_message_size`: 128 MiB
 *   before 4.0, 16 MiB from 4.0): the broker closes the CHANNEL, and every
 *   other publish awaiting its confirm on it fails with it;
 * - one frame for the content header (the properties, headers included):
 *   the frame max negotiated with the broker, and amqplib's 64 KiB encoding
 *   buffer. Past the frame max the broker closes the CONNECTION.
 * RabbitMQ does not announce its max message size, so it is a setting
 * (`maxPublishBytes`); the frame max is read from the connection.
 */
import type { OutboundMessage } from '../transport';

/** amqplib encodes a content header's properties in a buffer of this size (lib/defs.js SCRATCH). */
export const AMQPLIB_PROPERTIES_BUFFER = 65_536;
/** Frame type, channel, size and frame-end octets around every frame. */
const FRAME_OVERHEAD = 8;
/** Class id, weight, body size and property flags of a content header. */
const CONTENT_HEADER_FIXED = 14;

/** The frame max negotiated on an amqplib connection (its `frameMax` after tuning), if it says. */
export function frameMaxOf(connection: unknown): number | undefined {
  if (typeof connection !== 'object' || connection === null) return undefined;
  const v: unknown = 'frameMax' in connection ? connection.frameMax : undefined;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** An upper bound of what amqplib writes for one field value (codec.js encodeFieldValue). */
function valueBytes(v: unknown, depth: number): number {
  if (typeof v === 'string') return 1 + 4 + Buffer.byteLength(v);
  if (Buffer.isBuffer(v)) return 1 + 4 + v.length;
  if (typeof v === 'number' || typeof v === 'bigint' || v instanceof Date) return 1 + 8;
  if (typeof v === 'boolean') return 2;
  if (v === null || v === undefined) return 1;
  if (depth > 32) return Number.POSITIVE_INFINITY;
  if (Array.isArray(v)) return 1 + 4 + v.reduce((n: number, x: unknown) => n + valueBytes(x, depth + 1), 0);
  if (typeof v === 'object') return 1 + tableBytes(v as Record<string, unknown>, depth + 1);
  return 1 + 4 + Buffer.byteLength(String(v));
}

/** An upper bound of an encoded field table (length prefix, then key and value per entry). */
export function tableBytes(table: Readonly<Record<string, unknown>>, depth = 0): number {
  let n = 4;
  for (const [key, v] of Object.entries(table)) {
    if (v === undefined) continue;
    n += 1 + Buffer.byteLength(key) + valueBytes(v, depth);
  }
  return n;
}

const shortstr = (s: string | undefined): number => (s === undefined ? 0 : 1 + Buffer.byteLength(s));

/** An upper bound of the content header frame of `msg` as publisher.ts sends it. */
export function contentHeaderBytes(msg: OutboundMessage): number {
  return (
    FRAME_OVERHEAD + CONTENT_HEADER_FIXED + shortstr(msg.contentType) + shortstr(msg.contentEncoding ?? 'utf-8') +
    tableBytes(msg.headers ?? {}) + 2 + (msg.expirationMs === undefined ? 0 : 1 + 20)
  );
}

/** Why `msg` can never be published within these limits, or undefined when it can. */
export function sizeProblem(msg: OutboundMessage, limits: { maxPublishBytes: number; frameMax?: number | undefined }): string | undefined {
  if (msg.body.length > limits.maxPublishBytes) {
    return `the message is ${msg.body.length} bytes, larger than the broker's max message size (${limits.maxPublishBytes} bytes, maxPublishBytes): the broker would close the channel`;
  }
  const header = contentHeaderBytes(msg);
  const frame = Math.min(limits.frameMax ?? AMQPLIB_PROPERTIES_BUFFER, AMQPLIB_PROPERTIES_BUFFER);
  if (header > frame) {
    return `its properties and headers take up to ${header} bytes, larger than one frame (${frame} bytes): they must fit one content header frame`;
  }
  return undefined;
}
