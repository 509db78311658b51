/**
 * Crash recovery (docs/design.md#guarantees; Nova's ComputeManager._init_instance): intents a
 * dead worker run started and never finished are decided on restart against
 * the hypervisor's real state, before anything is consumed:
 *
 * - succeeded: the guest is already in the intent's target state; the
 *   outcome is recorded and intent.succeeded published (with an
 *   instance.state of cause `reconcile`);
 * - retry: the intent is safe to run again from the state found (every
 *   driver operation is idempotent toward its target: plug/attach report a
 *   device already there, destroy a guest already gone); it is marked
 *   `retry` and runs when the broker redelivers its message (the message
 *   was never acked, so it comes back);
 * - failed: running it again from here is not safe (e.g. a spawn left a
 *   guest that is not running, a pause found the guest shut off); the
 *   outcome INTERRUPTED is recorded and intent.failed published.
 *
 * In all three cases the redelivered message then meets the store: a
 * recorded outcome is published again with `redelivered: true` (and a call
 * answered with it), a `retry` runs once. Outcomes a dead run recorded but
 * never saw confirmed are published here too, flagged `redelivered` (the
 * first publication may have reached the broker unconfirmed).
 */
import { z } from 'zod';
import { HostwallError, IntentFailure } from '../errors';
import type { IntentRequest } from '../host-state/instance-view';
import type { Driver, GuestState } from '../drivers/driver';
import type { IntentKind, PowerState } from '../intents';
import { isIntentKind } from '../intents';
import type { Logger } from '../log';
import { type IntentStore, keyOf, type StoredIntent } from '../store/intent-store';
import type { InstanceBook } from '../host-state/instance-book';
import { parseOutcome } from './ledger';
import { errorInfo, type FinalOutcome } from './outcome';
import type { EventSink } from './ports';

export type Decision = 'succeeded' | 'retry' | 'failed';

/** The power state each instance intent leaves the guest in. */
const TARGET: Partial<Record<IntentKind, PowerState>> = {
  'instance.spawn': 'running',
  'instance.power_on': 'running',
  'instance.power_off': 'shutdown',
  'instance.reboot': 'running',
  'instance.pause': 'paused',
  'instance.unpause': 'running',
  'instance.suspend': 'suspended',
  'instance.resume': 'running',
};

/** Power states from which running the intent again is safe and may reach the target. */
const RETRY_FROM: Partial<Record<IntentKind, readonly PowerState[]>> = {
  'instance.power_on': ['shutdown', 'crashed', 'suspended', 'paused', 'pending'],
  'instance.power_off': ['running', 'paused', 'crashed', 'suspended', 'pending'],
  'instance.reboot': ['shutdown', 'crashed', 'paused', 'pending'],
  'instance.pause': ['running'],
  'instance.unpause': ['paused'],
  'instance.suspend': ['running', 'paused'],
  'instance.resume': ['suspended', 'shutdown'],
};

/**
 * What to do with an interrupted intent of `kind`, given the guest as the
 * hypervisor has it now (undefined: no such guest).
 */
export function decide(kind: string, guest: GuestState | undefined): Decision {
  if (!isIntentKind(kind)) return 'failed';
  if (kind === 'instance.destroy') return guest === undefined ? 'succeeded' : 'retry';
  if (kind === 'instance.spawn') return guest === undefined ? 'retry' : guest.power_state === 'running' ? 'succeeded' : 'failed';
  const target = TARGET[kind];
  if (target === undefined) return 'retry'; // devices (idempotent in the driver), signals and reads
  if (guest === undefined) return 'retry'; // runs again and fails INSTANCE_NOT_FOUND, like any intent on a missing guest
  if (guest.power_state === target) return 'succeeded';
  return RETRY_FROM[kind]?.includes(guest.power_state) ? 'retry' : 'failed';
}

export interface RecoveryDeps {
  store: IntentStore;
  driver: Driver;
  events: EventSink;
  book: InstanceBook;
  log: Logger;
}

export interface RecoverySummary {
  succeeded: number;
  retry: number;
  failed: number;
  republished: number;
}

const StoredRequest = z.object({
  request_id: z.string(), global_request_id: z.string(), user_id: z.string(), project_id: z.string(), issuer: z.string(),
}).partial();

function requestOf(row: StoredIntent): IntentRequest {
  let r: z.infer<typeof StoredRequest> = {};
  try {
    r = StoredRequest.catch({}).parse(row.request ? JSON.parse(row.request) : {});
  } catch {
    r = {};
  }
  return { intent_id: row.intent_id, request_id: r.request_id, global_request_id: r.global_request_id, user_id: r.user_id, project_id: r.project_id, issuer: r.issuer };
}

async function guestOf(driver: Driver, uuid: string | null): Promise<GuestState | undefined> {
  if (uuid === null) return undefined;
  try {
    return await driver.getState(uuid);
  } catch (err) {
    if (err instanceof HostwallError && err.code === 'INSTANCE_NOT_FOUND') return undefined;
    throw err;
  }
}

export async function recoverInterrupted(deps: RecoveryDeps): Promise<RecoverySummary> {
  const { store, driver, events, book, log } = deps;
  const summary: RecoverySummary = { succeeded: 0, retry: 0, failed: 0, republished: 0 };
  for (const row of store.interrupted()) {
    const guest = await guestOf(driver, row.instance_uuid);
    const decision = decide(row.kind, guest);
    const request = requestOf(row);
    log.warn(`interrupted intent reconciled: ${decision}`, { intent_id: row.intent_id, kind: row.kind, instance_uuid: row.instance_uuid, power_state: guest?.power_state ?? 'absent' });
    summary[decision]++;
    if (decision === 'retry') {
      store.markRetry(keyOf(row));
      continue;
    }
    if (guest) book.observe(guest.instance_uuid, guest.power_state, guest.name);
    else if (row.instance_uuid && row.kind === 'instance.destroy') book.markDeleted(row.instance_uuid, new Date().toISOString());
    const facts = row.instance_uuid ? book.snapshot(row.instance_uuid) : undefined;
    const outcome: FinalOutcome =
      decision === 'succeeded'
        ? { status: 'succeeded', intentId: row.intent_id, kind: row.kind, result: { intent_id: row.intent_id, kind: row.kind, outcome: 'succeeded', reconciled: true }, instance: facts }
        : {
            status: 'failed', intentId: row.intent_id, kind: row.kind, instance: facts,
            error: errorInfo(new IntentFailure('INTERRUPTED', `${row.kind} was interrupted by a worker crash and is not safe to repeat: the guest is ${guest ? guest.power_state : 'gone'}`, { power_state: guest?.power_state ?? null })),
          };
    await store.finish(keyOf(row), outcome.status, JSON.stringify(outcome));
    const pubs: Promise<void>[] = [events.outcome(outcome, request, {})];
    if (facts) pubs.push(events.instanceState(facts, request, 'reconcile'));
    await Promise.all(pubs);
    await store.markPublished(keyOf(row));
  }
  for (const row of store.unpublished()) {
    const outcome = parseOutcome(row.outcome);
    if (!outcome) continue;
    // Its first publication may have reached the broker before the crash: flagged, so at most one is not.
    await events.outcome(outcome, requestOf(row), { redelivered: true });
    await store.markPublished(keyOf(row));
    summary.republished++;
  }
  return summary;
}
