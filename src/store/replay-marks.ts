/**
 * How a re-sent message says it is a replay (DESIGN §6: "replayed messages
 * are marked as such"). `hostwall replay` sets these headers on every message
 * it re-publishes, from the journal stream or a dead-letter queue; the worker
 * reads them to publish a recorded outcome with `replayed: true` instead of
 * `redelivered: true`. Every other header of the original is kept as it was
 * (so an HMAC signature still verifies).
 *
 * - `x-hostwall-replay-of`: what was replayed, `journal:<stream offset>` or
 *   `dead-letter:<queue>` (its presence is what marks a replay);
 * - `x-hostwall-replay-source`: `journal` or `dead-letter`;
 * - `x-hostwall-replayed-at`: ISO 8601 time of the re-send.
 */
export const REPLAY_HEADERS = {
  of: 'x-hostwall-replay-of',
  source: 'x-hostwall-replay-source',
  at: 'x-hostwall-replayed-at',
} as const;

export function isReplay(headers: Readonly<Record<string, unknown>>): boolean {
  const v = headers[REPLAY_HEADERS.of];
  return (typeof v === 'string' && v !== '') || (Buffer.isBuffer(v) && v.length > 0);
}

export function replayHeaders(source: 'journal' | 'dead-letter', of: string, at = new Date()): Record<string, string> {
  return { [REPLAY_HEADERS.of]: `${source}:${of}`, [REPLAY_HEADERS.source]: source, [REPLAY_HEADERS.at]: at.toISOString() };
}
