/**
 * What the dispatcher knows about an intent id before running it: running
 * now in this process, finished (with its outcome, and whether its events
 * were confirmed), to be retried (an interrupted run reconciled as safe to
 * repeat), or unknown. Backed by the durable intent store, with the
 * in-process part (running promises, a bounded cache of recent outcomes) in
 * memory in front of it.
 *
 * Reads (`instance.get_state`, `host.*`) change nothing, so they are kept in
 * memory only: answering a duplicate read from the cache is a courtesy, and
 * running it again after a restart is harmless.
 */
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
  private readonly cache: RecentOutcomes<{ outcome: FinalOutcome; published: boolean }>;

  constructor(
    private readonly store: IntentStore,
    cacheSize: number,
    private readonly log: Logger,
  ) {
    this.cache = new RecentOutcomes(cacheSize);
  }

  lookup(intentId: string): Prior {
    const running = this.running.get(intentId);
    if (running) return { kind: 'running', outcome: running };
    const cached = this.cache.lookup(intentId);
    if (cached !== undefined) return { kind: 'finished', ...cached };
    const row = this.store.get(intentId);
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

  /** Record the outcome: durably for intents that change something, in memory for reads. */
  async finish(outcome: FinalOutcome, durable: boolean): Promise<void> {
    if (durable) await this.store.finish(outcome.intentId, outcome.status, JSON.stringify(outcome));
    this.cache.record(outcome.intentId, { outcome, published: false });
  }

  async published(outcome: FinalOutcome, durable: boolean): Promise<void> {
    if (durable) await this.store.markPublished(outcome.intentId);
    this.cache.record(outcome.intentId, { outcome, published: true });
  }
}

export function parseOutcome(json: string | null): FinalOutcome | undefined {
  if (json === null) return undefined;
  try {
    const r = FinalOutcomeSchema.safeParse(JSON.parse(json));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
