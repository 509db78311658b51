/**
 * Limits a message must respect before anything looks at its meaning
 * (docs/design.md#guarantees: "a hostile message cannot make the worker allocate without
 * limit"). The intent schemas bound their own fields; these bounds cover
 * everything else a message can carry (the oslo context, Nova object
 * primitives, connection_info.data) and run before any of it is used.
 *
 * - size: checked on the raw body, before parsing (OVERSIZE);
 * - depth, array length, and the keys `__proto__`, `constructor`,
 *   `prototype` anywhere: checked on the parsed message by an iterative
 *   walk (no recursion, so a deep message cannot overflow the stack).
 *   JSON.parse itself never pollutes a prototype (it defines own
 *   properties), but code that merges or spreads such objects later can;
 *   refusing them at the wall means no layer above has to care.
 */
import { RejectedError } from '../errors';

export interface MessageLimits {
  maxMessageBytes: number;
  maxJsonDepth: number;
  maxArrayLength: number;
}

/** Keys that reach Object.prototype through assignment or merge in JavaScript. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Refuse a body larger than the limit; runs before any decoding. */
export function checkSize(body: Buffer, limits: Pick<MessageLimits, 'maxMessageBytes'>): void {
  if (body.length > limits.maxMessageBytes) {
    throw new RejectedError('OVERSIZE', `message body is ${body.length} bytes; the limit is ${limits.maxMessageBytes}`, {
      bytes: body.length, limit: limits.maxMessageBytes,
    });
  }
}

/**
 * Walk a parsed JSON value and refuse it on the first breach: nesting deeper
 * than maxJsonDepth, an array longer than maxArrayLength, or a forbidden key.
 * The path of the breach is in the message (and the dead letter's headers).
 */
export function checkStructure(value: unknown, limits: Pick<MessageLimits, 'maxJsonDepth' | 'maxArrayLength'>): void {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, depth, path } = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limits.maxJsonDepth) {
      throw new RejectedError('OVERSIZE', `message nests deeper than ${limits.maxJsonDepth} levels (at ${path || '(top)'})`, {
        limit: limits.maxJsonDepth, path,
      });
    }
    if (Array.isArray(v)) {
      if (v.length > limits.maxArrayLength) {
        throw new RejectedError('OVERSIZE', `array ${path || '(top)'} has ${v.length} items; the limit is ${limits.maxArrayLength}`, {
          limit: limits.maxArrayLength, path, items: v.length,
        });
      }
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new RejectedError('INVALID_INTENT', `forbidden key "${key}" in message (at ${path || '(top)'})`, { path, key });
      }
      stack.push({ v: (v as Record<string, unknown>)[key], depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
}
