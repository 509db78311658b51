/**
 * Re-sending selected messages, at a bounded pace, each confirmed by the
 * broker before the next step (for a dead letter: before it is removed from
 * its queue). A dry run reads and selects exactly the same way and sends
 * nothing.
 */
import type { IssuerKeys } from '../policy/identity';
import { SIGNATURE_HEADERS } from '../policy/signature';
import type { PublishResult, OutboundMessage } from '../transport/transport';
import { describe, type ReplayItem, republished, type SourceMessage } from './replay-message';
import { type Selection, selector } from './selection';

export interface SourceEntry {
  msg: SourceMessage;
  /** The re-publish was confirmed (dead letters: remove it now). */
  sent?: () => void;
  /** Not selected, not sent, or failed (dead letters: put it back). */
  skipped?: () => void;
}

export type ItemStatus = 'would-send' | 'sent' | 'unroutable' | 'failed' | 'undecodable';

export interface ReplayOptions {
  selection: Selection;
  dryRun: boolean;
  asNew: boolean;
  /** Messages per second; unbounded when absent. */
  rate?: number | undefined;
  topic?: string;
  /** The issuers' HMAC keys: signed messages are signed anew (replay-message.ts). */
  keys?: IssuerKeys | undefined;
  /** This run's id, set on every re-sent message (replay-marks.ts), so its refused re-sends are known. */
  runId?: string | undefined;
  publish: (m: OutboundMessage) => Promise<PublishResult>;
  onItem?: (item: ReplayItem, status: ItemStatus, detail?: string) => void;
}

export interface ReplayReport {
  scanned: number;
  selected: number;
  sent: number;
  unroutable: number;
  failed: number;
  items: { item: ReplayItem; status: ItemStatus; intentId: string | undefined }[];
}

/** A pacer: the n-th message goes no earlier than start + n / rate. */
function pacer(rate: number | undefined): () => Promise<void> {
  if (!rate || rate <= 0) return async () => undefined;
  const start = Date.now();
  let n = 0;
  return async () => {
    const due = start + (n++ * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
}

export async function replay(source: AsyncIterable<SourceEntry>, o: ReplayOptions): Promise<ReplayReport> {
  const matches = selector(o.selection);
  const pace = pacer(o.rate);
  const report: ReplayReport = { scanned: 0, selected: 0, sent: 0, unroutable: 0, failed: 0, items: [] };
  const note = (item: ReplayItem, status: ItemStatus, intentId: string | undefined, detail?: string) => {
    report.items.push({ item, status, intentId });
    o.onItem?.(item, status, detail);
  };
  for await (const entry of source) {
    report.scanned++;
    const item = describe(entry.msg, o.topic);
    if (report.selected >= (o.selection.limit ?? Number.POSITIVE_INFINITY) || !matches(item)) {
      entry.skipped?.();
      continue;
    }
    report.selected++;
    if (o.dryRun) {
      entry.skipped?.();
      note(item, item.undecodable ? 'undecodable' : 'would-send', item.intentId);
      continue;
    }
    const { out, intentId, signature } = republished(item, { asNew: o.asNew, keys: o.keys, runId: o.runId });
    const kept = signature === 'kept' ? `signed by ${String(out.headers?.[SIGNATURE_HEADERS.issuer])} and re-sent with its old signature (no key for it): a worker refuses it once its window has passed` : undefined;
    await pace();
    try {
      const r = await o.publish(out);
      if (r === 'unroutable') {
        report.unroutable++;
        entry.skipped?.();
        note(item, 'unroutable', intentId, `no queue bound for ${out.routingKey} on ${out.exchange || '(default)'}`);
      } else {
        report.sent++;
        entry.sent?.();
        note(item, 'sent', intentId, kept);
      }
    } catch (err) {
      report.failed++;
      entry.skipped?.();
      note(item, 'failed', intentId, String(err));
    }
  }
  return report;
}
