/** The demo's operator step: replay the journal for one instance and watch what the worker does with it. */
import type { Config } from '../config';
import { printable } from '../limits/terminal-text';
import { replay } from '../replay/replay';
import { readJournal } from '../store/journal-reader';
import { isReplay } from '../store/replay-marks';
import type { Transport } from '../transport/transport';
import type { EventTail } from './event-tail';
import { CheckFailed } from '../errors';

export async function replayJournal(o: { transport: Transport; config: Config; host: string; instance: string; tail: EventTail; since: Date }): Promise<{ sent: number; appliedAgain: number }> {
  const before = o.tail.seen.length;
  async function* source() {
    for await (const r of readJournal({ transport: o.transport, from: o.since, stopAtTail: true })) {
      if (isReplay(r.headers)) continue;
      yield { msg: { source: 'journal' as const, ref: String(r.offset), exchange: r.exchange, routingKey: r.routingKey, headers: r.headers, contentType: r.contentType, contentEncoding: r.contentEncoding, body: r.body, at: r.timestamp } };
    }
  }
  const report = await replay(source(), {
    selection: { host: o.host, instance: o.instance },
    dryRun: false,
    asNew: false,
    rate: 50,
    publish: (m) => o.transport.publish(m),
    onItem: (item, status) => process.stdout.write(`   replay: ${printable(`${item.kind ?? '?'} ${item.intentId ?? ''}`)} ${status}\n`),
  });
  const ids = new Set(report.items.filter((i) => i.status === 'sent').map((i) => i.intentId));
  // Each re-sent intent is answered by its recorded outcome, marked replayed; wait for all of them.
  for (const id of ids) await o.tail.waitFor((e) => e.intent_id === id && 'replayed' in e && e.replayed === true, 15_000);
  const after = o.tail.seen.slice(before);
  const appliedAgain = after.filter((e) => e.event === 'intent.accepted' && ids.has(e.intent_id ?? undefined)).length;
  const answered = after.filter((e) => 'replayed' in e && e.replayed === true && ids.has(e.intent_id ?? undefined)).length;
  if (answered < ids.size) throw new CheckFailed(`demo: only ${answered} of ${ids.size} replayed intents were answered`);
  return { sent: report.sent, appliedAgain };
}
