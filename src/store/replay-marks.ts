/**
 * How a re-sent message says it is a replay (docs/design.md#guarantees: "replayed messages
 * are marked as such"). `hostwall replay` sets these headers on every message
 * it re-publishes, from the journal stream or a dead-letter queue; the worker
 * reads them to publish a recorded outcome with `replayed: true` instead of
 * `redelivered: true`. Every other header of the original is kept as it was
 * (so an HMAC signature still verifies).
 *
 * - `x-hostwall-replay-of`: what was replayed, `journal:<stream offset>` or
 *   `dead-letter:<queue>` (its presence is what marks a replay);
 * - `x-hostwall-replay-source`: `journal` or `dead-letter`;
 * - `x-hostwall-replayed-at`: ISO 8601 time of the re-send;
 * - `x-hostwall-replay-run`: the id of the `hostwall replay` run that re-sent
 *   it (a refused re-send keeps it in the dead-letter queue, so that run
 *   knows its own messages when they come back).
 */
export const REPLAY_HEADERS = {
  of: 'x-hostwall-replay-of',
  source: 'x-hostwall-replay-source',
  at: 'x-hostwall-replayed-at',
  run: 'x-hostwall-replay-run',
} as const;

export function isReplay(headers: Readonly<Record<string, unknown>>): boolean {
  const v = headers[REPLAY_HEADERS.of];
  return (typeof v === 'string' && v !== '') || (Buffer.isBuffer(v) && v.length > 0);
}

export function replayHeaders(source: 'journal' | 'dead-letter', of: string, at = new Date(), run?: string): Record<string, string> {
  return { [REPLAY_HEADERS.of]: `${source}:${of}`, [REPLAY_HEADERS.source]: source, [REPLAY_HEADERS.at]: at.toISOString(), ...(run !== undefined ? { [REPLAY_HEADERS.run]: run } : {}) };
}
