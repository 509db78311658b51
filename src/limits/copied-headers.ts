/**
 * What a dead letter copies of the refused message's own AMQP headers.
 *
 * A sender may fill a message's headers up to the frame it can encode (~64
 * KiB). Copied whole, plus the reason hostwall adds, they no longer fit one
 * frame: the dead letter could not be published, the message was requeued
 * and refused again, thousands of times a second, for ever (issue 15). So
 * the copy is bounded, whatever the message carries:
 *
 * - at most MAX_HEADERS headers and MAX_TOTAL_BYTES in all, hostwall's own
 *   first (signature, replay marks: what `hostwall replay` needs to re-send
 *   it), then the others in the order they came;
 * - a key longer than MAX_KEY_BYTES is dropped; a text or byte value is cut
 *   to MAX_VALUE_BYTES; a table, array or any other structured value becomes
 *   its JSON text, cut the same way; numbers, booleans and null are kept;
 * - anything left out or cut is said in one note (DEAD_LETTER_HEADERS.truncated),
 *   so an operator knows the copy is not the original.
 *
 * The whole original is still in the journal stream (docs/design.md#guarantees), by offset.
 */

export const COPIED_HEADER_LIMITS = {
  maxHeaders: 64,
  maxKeyBytes: 128,
  maxValueBytes: 1024,
  maxTotalBytes: 8 * 1024,
} as const;

export type CopiedHeaderLimits = { readonly [K in keyof typeof COPIED_HEADER_LIMITS]: number };

export interface CopiedHeaders {
  headers: Record<string, unknown>;
  /** What was left out or cut, for the dead letter's truncation header; undefined when copied whole. */
  note: string | undefined;
}

/** hostwall's own headers go first: the ones a re-send needs. */
const OWN_PREFIX = 'x-hostwall-';

/** `s` cut to at most `max` UTF-8 bytes, never inside a character. */
function cutBytes(s: string, max: number): { text: string; cut: boolean } {
  if (Buffer.byteLength(s) <= max) return { text: s, cut: false };
  const b = Buffer.from(s, 'utf8').subarray(0, max);
  // Drop a trailing partial character (the decoder would turn it into U+FFFD): find the last lead byte.
  let lead = b.length - 1;
  while (lead > 0 && ((b[lead] ?? 0) & 0xc0) === 0x80) lead--;
  const first = b[lead] ?? 0;
  const width = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  const end = lead + width > b.length ? lead : b.length;
  return { text: b.subarray(0, end).toString('utf8'), cut: true };
}

function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** One value as it is copied, its size on the wire (roughly), and whether it was changed. */
function copyValue(v: unknown, maxBytes: number): { value: unknown; bytes: number; cut: boolean; flattened: boolean } {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return { value: v, bytes: 9, cut: false, flattened: false };
  if (typeof v === 'string') {
    const c = cutBytes(v, maxBytes);
    return { value: c.text, bytes: 5 + Buffer.byteLength(c.text), cut: c.cut, flattened: false };
  }
  if (Buffer.isBuffer(v)) {
    const b = v.length > maxBytes ? Buffer.from(v.subarray(0, maxBytes)) : v;
    return { value: b, bytes: 5 + b.length, cut: v.length > maxBytes, flattened: false };
  }
  const c = cutBytes(jsonText(v), maxBytes);
  return { value: c.text, bytes: 5 + Buffer.byteLength(c.text), cut: c.cut, flattened: true };
}

/** The bounded copy of `headers` (see the file header). */
export function copyHeaders(headers: Readonly<Record<string, unknown>>, limits: CopiedHeaderLimits = COPIED_HEADER_LIMITS): CopiedHeaders {
  const keys = Object.keys(headers).filter((k) => headers[k] !== undefined);
  const ordered = [...keys.filter((k) => k.startsWith(OWN_PREFIX)), ...keys.filter((k) => !k.startsWith(OWN_PREFIX))];
  const out: Record<string, unknown> = {};
  let kept = 0;
  let total = 0;
  let cutValues = 0;
  let flattened = 0;
  for (const key of ordered) {
    const keyBytes = Buffer.byteLength(key);
    if (keyBytes > limits.maxKeyBytes || kept >= limits.maxHeaders) continue;
    const c = copyValue(headers[key], limits.maxValueBytes);
    if (total + 1 + keyBytes + c.bytes > limits.maxTotalBytes) continue;
    out[key] = c.value;
    kept++;
    total += 1 + keyBytes + c.bytes;
    if (c.cut) cutValues++;
    if (c.flattened) flattened++;
  }
  const parts: string[] = [];
  if (kept < keys.length) parts.push(`kept ${kept} of ${keys.length} headers (at most ${limits.maxHeaders}, ${limits.maxTotalBytes} bytes, keys of ${limits.maxKeyBytes} bytes)`);
  if (cutValues > 0) parts.push(`${cutValues} values cut to ${limits.maxValueBytes} bytes`);
  if (flattened > 0) parts.push(`${flattened} structured values copied as JSON text`);
  return { headers: out, note: parts.length > 0 ? parts.join('; ') : undefined };
}
