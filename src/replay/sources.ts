/**
 * Where `hostwall replay` reads: the journal stream or a host's dead-letter
 * queue, as SourceEntry streams for replay.ts. Both are bounded by what was
 * there when the run began (journal-marker.ts, dead-letters.ts): a run never
 * reads what it re-sent itself.
 */
import { readJournal } from '../store/journal-reader';
import { isReplay } from '../store/replay-marks';
import type { Transport } from '../transport/transport';
import type { DeadLetterReader, HeldMessage } from './dead-letters';
import type { SourceEntry } from './replay';
import type { Selection } from './selection';

export interface JournalSourceOptions {
  /** A started transport that can read streams (Transport.readStream). */
  transport: Transport;
  selection: Selection;
  /** Also messages that were themselves replays (skipped by default: re-sending them repeats the same outcome). */
  includeReplays: boolean;
  /** Where a first pass stopped (its onStop): read exactly the same records again. Unset: up to the tail as it is now. */
  until?: number | undefined;
  /** The offset reading stopped before, for a second pass over exactly the same records. */
  onStop?: (offset: number) => void;
}

export async function* journalSource(o: JournalSourceOptions): AsyncGenerator<SourceEntry> {
  // The reader resolves `--to` to an offset; without a first pass's offset, the tail marker bounds the read.
  const bound = o.until !== undefined ? { until: o.until } : { stopAtTail: true, ...(o.selection.to ? { until: o.selection.to } : {}) };
  for await (const r of readJournal({ transport: o.transport, from: o.selection.from ?? 'first', ...bound, ...(o.onStop ? { onStop: o.onStop } : {}) })) {
    if (!o.includeReplays && isReplay(r.headers)) continue;
    yield {
      msg: { source: 'journal', ref: String(r.offset), exchange: r.exchange, routingKey: r.routingKey, headers: r.headers, contentType: r.contentType, contentEncoding: r.contentEncoding, body: r.body, at: r.timestamp },
    };
  }
}

export function deadLetterEntry(h: HeldMessage): SourceEntry {
  return { msg: h.msg, sent: h.remove, skipped: h.keep };
}

/** The queue's messages as counted when the reader opened; stops early at one this run (`runId`) re-sent. */
export async function* deadLetterSource(reader: DeadLetterReader, runId: string): AsyncGenerator<SourceEntry> {
  for await (const h of reader.take(Number.POSITIVE_INFINITY, runId)) yield deadLetterEntry(h);
}

/** Every entry of a source, held in memory (dead letters stay held, unacked, until settled or the reader closes). */
export async function collect(source: AsyncIterable<SourceEntry>): Promise<SourceEntry[]> {
  const all: SourceEntry[] = [];
  for await (const e of source) all.push(e);
  return all;
}

export async function* replayOf(entries: readonly SourceEntry[]): AsyncGenerator<SourceEntry> {
  yield* entries;
}
