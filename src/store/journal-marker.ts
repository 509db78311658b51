/**
 * A marker record in the journal stream: where a reader's "now" is.
 *
 * Over AMQP 0-9-1 nothing tells a reader the offset of a stream's last
 * record (declare-ok's message count comes from metrics refreshed every few
 * seconds, and a chunk timestamp is the broker's clock, not ours). So a
 * reader that must stop at the tail as it was when it began appends a marker
 * through the default exchange straight to the stream (routed nowhere else:
 * no worker sees it), waits for the broker's confirm, and stops when it reads
 * the marker back: everything before it was there when reading began.
 *
 * A marker is a small JSON record with the header `x-hostwall-journal-marker`
 * (a fresh id per read); readers skip every marker, so they cost the journal
 * one record per `hostwall replay` pass and are otherwise invisible. They are
 * a trace as well: who read the journal, and when.
 */
import { randomUUID } from 'node:crypto';
import { TransportError } from '../errors';
import type { StreamReader } from '../transport/transport';

export const JOURNAL_MARKER_HEADER = 'x-hostwall-journal-marker';

export function markerOf(headers: Readonly<Record<string, unknown>>): string | undefined {
  const v = headers[JOURNAL_MARKER_HEADER];
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

export function isMarker(headers: Readonly<Record<string, unknown>>): boolean {
  return markerOf(headers) !== undefined;
}

/** Append a marker to the stream `reader` reads; resolves with its id once the broker confirmed it. */
export async function appendMarker(reader: StreamReader, stream: string): Promise<string> {
  const id = randomUUID();
  const body = Buffer.from(JSON.stringify({ journal_marker: id, by: `hostwall pid ${process.pid}`, at: new Date().toISOString() }));
  try {
    await reader.append({ body, contentType: 'application/json', headers: { [JOURNAL_MARKER_HEADER]: id } });
  } catch (err) {
    if (err instanceof TransportError && err.details.missing === true) throw new TransportError(`no journal stream ${stream} on the broker (has a worker with the journal on ever run here?)`);
    throw err instanceof TransportError ? err : new TransportError(`appending a marker to the journal ${stream}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return id;
}
