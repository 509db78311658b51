/**
 * What the dispatcher knows about an intent before running it: running now
 * in this process, finished (with its outcome, and whether its events were
 * confirmed), to be retried (an interrupted run reconciled as safe to
 * repeat), or unknown. Backed by the durable intent store, with the
 * in-process part (running promises, a bounded cache of recent reads) in
 * memory in front of it.
 *
 * An intent is its id, kind and issuer together (IntentKey): a message of
 * another kind or from another issuer that reuses the id is another intent,
 * never a duplicate (issue 15: a `get_state`, or a Neutron `port.ready`,
 * sent with the id of a Nova `destroy` answered it, and the guest stayed).
 * Reads are looked up only among reads and actions only in the store, so a
 * read's id never stands for an action whatever it is keyed on.
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
 *
 * It is the dispatcher's one door to the store: outcomes, the delivery
 * counts of unfinished messages (poison.ts) and the records host.intents
 * reads all go through it.
 */
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import type { Logger } from '../log';
import type { BeginRecord, IntentKey, IntentStore } from '../store/intent-store';
import type { InboundMessage } from '../transport/transport';
import type { IntentRecords } from './intent-records';
import { type CountedByBroker, countDelivery, type DeliveryCount } from './poison';
import { RecentOutcomes } from './recent-outcomes';
import { type FinalOutcome, FinalOutcomeSchema } from './outcome';

export type Prior =
  | { kind: 'running'; outcome: Promise<FinalOutcome | undefined> }
  | { kind: 'finished'; outcome: FinalOutcome; published: boolean }
  | { kind: 'retry' }
  | undefined;

/** The issuer part of an intent's key: the one its request facts name (as stored), '' for none. */
export function issuerOf(request: Pick<IntentRequest, 'issuer'>): string {
  return request.issuer ?? '';
}

/** The key of the intent an outcome is about. */
export function outcomeKey(o: FinalOutcome, issuer: string): IntentKey {
  return { intentId: o.intentId, kind: o.kind, issuer };
}

/** One string per key for the in-memory maps (no separator can be forged: JSON quotes each part). */
const mapKey = (k: IntentKey): string => JSON.stringify([k.issuer, k.kind, k.intentId]);

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

  /** `durable`: the kind changes the host (its outcomes are in the store); else it is a read. */
  lookup(key: IntentKey, durable: boolean): Prior {
    const k = mapKey(key);
    const running = this.running.get(k);
    if (running) return { kind: 'running', outcome: running };
    if (!durable) {
      const read = this.reads.lookup(k);
      return read === undefined ? undefined : { kind: 'finished', ...read };
    }
    const row = this.store.prior(key);
    if (!row) return undefined;
    if (row.state === 'retry') return { kind: 'retry' };
    if (row.state === 'started') {
      // Started by a run that died and was not reconciled (reconciliation runs before consuming,
      // so this is a row it could not decide): run it again, as reconciliation would for a safe kind.
      return { kind: 'retry' };
    }
    const outcome = parseOutcome(row.outcome);
    if (!outcome) {
      this.log.error('intent store holds an unreadable outcome; the intent is run again', { intent_id: key.intentId, kind: key.kind });
      return { kind: 'retry' };
    }
    return { kind: 'finished', outcome, published: row.published_at !== null };
  }

  /** Follow an intent while it runs (undefined: it was not run, e.g. the worker is draining). */
  track(key: IntentKey, outcome: Promise<FinalOutcome | undefined>): void {
    const k = mapKey(key);
    this.running.set(k, outcome);
    const done = () => {
      if (this.running.get(k) === outcome) this.running.delete(k);
    };
    outcome.then(done, done);
  }

  begin(r: BeginRecord): Promise<void> {
    return this.store.begin(r);
  }

  /** The intents recorded (host.intents reads them). */
  get records(): IntentRecords {
    return this.store;
  }

  /** Count a redelivery of an unfinished message (poison.ts); undefined for a first delivery. */
  countDelivery(msg: InboundMessage, countedByBroker: CountedByBroker | undefined): DeliveryCount | undefined {
    return countDelivery(msg, this.store, countedByBroker);
  }

  /** A counted message is done with (its answer is 'ack'): its count is dropped. */
  forgetDelivery(count: DeliveryCount): Promise<void> {
    return this.store.forgetDelivery(count.fingerprint);
  }

  /**
   * Record the outcome: durably for intents that change something, in memory for reads.
   * A durable outcome is committed before this resolves, so by the time the intent stops
   * being `running` the store answers for it.
   */
  async finish(outcome: FinalOutcome, issuer: string, durable: boolean): Promise<void> {
    const key = outcomeKey(outcome, issuer);
    if (durable) await this.store.finish(key, outcome.status, storedOutcome(outcome));
    else this.reads.record(mapKey(key), { outcome, published: false });
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
  published(outcome: FinalOutcome, issuer: string, durable: boolean): void {
    const key = outcomeKey(outcome, issuer);
    if (!durable) {
      this.reads.record(mapKey(key), { outcome, published: true });
      return;
    }
    this.store.markPublishedLater(key).catch((err: unknown) => {
      // Not fatal: the outcome is published once more (flagged) at the next start.
      this.log.warn('could not record that an outcome was published', { intent_id: outcome.intentId, error: String(err) });
    });
  }
}

/** The instance fields an outcome needs again: what intent.succeeded / intent.failed carry (events/native.ts intentOutcome). */
type OutcomeInstance = Pick<InstanceView, 'uuid' | 'power_state' | 'vm_state' | 'task_state'>;

/**
 * The outcome as the store keeps it (JSON): everything a duplicate is answered with (the
 * status, the result or error a call gets, and the instance fields its outcome event
 * carries), without the rest of the instance view (flavor, ports, volumes, metadata...),
 * which are the bulk of an outcome and are only ever read from the instance book.
 */
export function storedOutcome(o: FinalOutcome): string {
  const f = o.instance;
  if (f === undefined) return JSON.stringify(o);
  const facts: OutcomeInstance = { uuid: f.uuid, power_state: f.power_state, vm_state: f.vm_state, task_state: f.task_state };
  return JSON.stringify({ ...o, instance: facts });
}

/**
 * A stored outcome. Its instance view may hold only the fields `storedOutcome` keeps
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
