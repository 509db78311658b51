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
import type * as amqp from 'amqplib';
import { TransportError } from '../errors';
import { withTimeout } from '../transport/timing';

export const JOURNAL_MARKER_HEADER = 'x-hostwall-journal-marker';

export function markerOf(headers: Readonly<Record<string, unknown>>): string | undefined {
  const v = headers[JOURNAL_MARKER_HEADER];
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

export function isMarker(headers: Readonly<Record<string, unknown>>): boolean {
  return markerOf(headers) !== undefined;
}

/** Append a marker to `stream`, confirmed; resolves with its id. */
export async function appendMarker(conn: amqp.ChannelModel, stream: string, timeoutMs: number): Promise<string> {
  const id = randomUUID();
  const ch = await withTimeout(conn.createConfirmChannel(), timeoutMs, 'opening a channel for the journal marker', (late) => {
    void late.close().catch(() => undefined);
  });
  ch.on('error', () => undefined);
  let returned = false;
  ch.on('return', () => {
    returned = true;
  });
  try {
    const body = Buffer.from(JSON.stringify({ journal_marker: id, by: `hostwall pid ${process.pid}`, at: new Date().toISOString() }));
    ch.publish('', stream, body, { mandatory: true, contentType: 'application/json', headers: { [JOURNAL_MARKER_HEADER]: id } });
    await withTimeout(ch.waitForConfirms(), timeoutMs, 'appending a marker to the journal');
    // A basic.return comes before the confirm of the same message.
    if (returned) throw new TransportError(`no journal stream ${stream} on the broker (has a worker with the journal on ever run here?)`);
    return id;
  } catch (err) {
    throw err instanceof TransportError ? err : new TransportError(`appending a marker to the journal ${stream}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await withTimeout(ch.close(), timeoutMs, 'closing the journal marker channel').catch(() => undefined);
  }
}
