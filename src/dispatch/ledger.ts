/**
 * What the dispatcher knows about an intent id before running it: running
 * now in this process, finished (with its outcome, and whether its events
 * were confirmed), to be retried (an interrupted run reconciled as safe to
 * repeat), or unknown. Backed by the durable intent store, with the
 * in-process part (running promises, a bounded cache of recent reads) in
 * memory in front of it.
 *
 * Intents that change the host are answered from the store alone. A cache of
 * their outcomes would save no disk read: an id never seen is read from the
 * store anyway (a cache cannot say "absent"), and a duplicate needs its
 * outcome, which the store holds. Keeping outcomes in memory cost ~4.9 KB per
 * intent for nothing but a faster answer to a rare duplicate.
 *
 * Reads (`instance.get_state`, `host.*`) change nothing, so they are kept in
 * memory only: answering a duplicate read from the cache is a courtesy, and
 * running it again after a restart (or once the cache forgot it) is harmless.
 */
import type { InstanceFacts } from '../events/instance-facts';
import type { Logger } from '../log';
import type { BeginRecord, IntentStore } from '../store/intent-store';
import { RecentOutcomes } from './dedupe';
import { type FinalOutcome, FinalOutcomeSchema } from './outcome';

export type Prior =
  | { kind: 'running'; outcome: Promise<FinalOutcome | undefined> }
  | { kind: 'finished'; outcome: FinalOutcome; published: boolean }
  | { kind: 'retry' }
  | undefined;

export class OutcomeLedger {
  private readonly running = new Map<string, Promise<FinalOutcome | undefined>>();
  private readonly reads: RecentOutcomes<{ outcome: FinalOutcome; published: boolean }>;

  /** `readCacheSize`: answers of reads kept for duplicates (the dedupeMemory setting). */
  constructor(
    private readonly store: IntentStore,
    readCacheSize: number,
    private readonly log: Logger,
  ) {
    this.reads = new RecentOutcomes(readCacheSize);
  }

  lookup(intentId: string): Prior {
    const running = this.running.get(intentId);
    if (running) return { kind: 'running', outcome: running };
    const read = this.reads.lookup(intentId);
    if (read !== undefined) return { kind: 'finished', ...read };
    const row = this.store.prior(intentId);
    if (!row) return undefined;
    if (row.state === 'retry') return { kind: 'retry' };
    if (row.state === 'started') {
      // Started by a run that died and was not reconciled (reconciliation runs before consuming,
      // so this is a row it could not decide): run it again, as reconciliation would for a safe kind.
      return { kind: 'retry' };
    }
    const outcome = parseOutcome(row.outcome);
    if (!outcome) {
      this.log.error('intent store holds an unreadable outcome; the intent is run again', { intent_id: intentId });
      return { kind: 'retry' };
    }
    return { kind: 'finished', outcome, published: row.published_at !== null };
  }

  /** Follow an intent while it runs (undefined: it was not run, e.g. the worker is draining). */
  track(intentId: string, outcome: Promise<FinalOutcome | undefined>): void {
    this.running.set(intentId, outcome);
    const done = () => {
      if (this.running.get(intentId) === outcome) this.running.delete(intentId);
    };
    outcome.then(done, done);
  }

  begin(r: BeginRecord): Promise<void> {
    return this.store.begin(r);
  }

  /**
   * Record the outcome: durably for intents that change something, in memory for reads.
   * A durable outcome is committed before this resolves, so by the time the intent stops
   * being `running` the store answers for it.
   */
  async finish(outcome: FinalOutcome, durable: boolean): Promise<void> {
    if (durable) await this.store.finish(outcome.intentId, outcome.status, storedOutcome(outcome));
    else this.reads.record(outcome.intentId, { outcome, published: false });
  }

  /**
   * The outcome's events were confirmed. Recorded in the next group commit and not waited
   * for: the mark only decides, at a restart, whether the outcome is published again
   * (`unpublished()`, flagged `redelivered`). If the worker dies after the ack and before
   * that commit, the outcome is published once more, flagged, which consumers are told to
   * expect (at most one unflagged outcome per intent: the first publication is the only
   * unflagged one, and a restart republishes only with the flag). Waiting for the commit
   * would hold every ack for a commit that protects nothing else. A graceful stop commits
   * what is queued when it closes the store.
   */
  published(outcome: FinalOutcome, durable: boolean): void {
    if (!durable) {
      this.reads.record(outcome.intentId, { outcome, published: true });
      return;
    }
    this.store.markPublishedLater(outcome.intentId).catch((err: unknown) => {
      // Not fatal: the outcome is published once more (flagged) at the next start.
      this.log.warn('could not record that an outcome was published', { intent_id: outcome.intentId, error: String(err) });
    });
  }
}

/** The instance facts an outcome needs again: what intent.succeeded / intent.failed carry (events/native.ts intentOutcome). */
type OutcomeFacts = Pick<InstanceFacts, 'uuid' | 'power_state' | 'vm_state' | 'task_state'>;

/**
 * The outcome as the store keeps it (JSON): everything a duplicate is answered with (the
 * status, the result or error a call gets, and the instance fields its outcome event
 * carries), without the rest of the instance facts (flavor, ports, volumes, metadata...),
 * which are the bulk of an outcome and are only ever read from the instance book.
 */
export function storedOutcome(o: FinalOutcome): string {
  const f = o.instance;
  if (f === undefined) return JSON.stringify(o);
  const facts: OutcomeFacts = { uuid: f.uuid, power_state: f.power_state, vm_state: f.vm_state, task_state: f.task_state };
  return JSON.stringify({ ...o, instance: facts });
}

/**
 * A stored outcome. Its instance facts may hold only the fields `storedOutcome` keeps
 * (FinalOutcomeSchema checks no more than that they are an object): what reads them is the
 * outcome event, which uses no other.
 */
export function parseOutcome(json: string | null): FinalOutcome | undefined {
  if (json === null) return undefined;
  try {
    const r = FinalOutcomeSchema.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
