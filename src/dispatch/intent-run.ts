/**
 * Carrying out one validated intent on the host, inside its lanes: the only
 * place the host is changed. Publishes Nova's `.start` / `.end` / `.error`
 * and the instance's new state (into `pubs`, awaited by the dispatcher
 * before the ack), keeps the instance book, and returns the final outcome.
 */
import { asHostwallError, HostwallError, StoppingError } from '../errors';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import { definitionOf, type Intent, instanceOf } from '../intents';
import type { Logger } from '../log';
import { type DriverActionDeps, type DriverActionResult, driverAction, type HostRecords } from './driver-actions';
import type { IntentRecords } from './intent-records';
import { taskStateFor } from '../intents';
import type { InstanceBook } from '../host-state/instance-book';
import { errorInfo, type FinalOutcome } from './outcome';
import type { EventSink, IntentHooks } from './ports';

/**
 * Add a confirm to wait for later. Marked handled now: a publish that fails
 * while the driver still works must not be an unhandled rejection (which
 * ends the process); the dispatcher still sees the failure when it awaits
 * them all before the ack.
 */
export function keep(pubs: Promise<unknown>[], p: Promise<unknown>): void {
  p.catch(() => undefined);
  pubs.push(p);
}

export interface IntentRunDeps {
  book: InstanceBook;
  events: EventSink;
  exec: DriverActionDeps;
  /** The intent store, for host.intents. */
  intents: IntentRecords;
}

export interface IntentRunOptions {
  /**
   * The intent was interrupted by a crash and reconciliation chose to run it
   * again: a removal that finds its device already gone reached its target.
   */
  recovering: boolean;
  /** The sender's own records around the driver (ports.ts IntentHooks). */
  hooks?: IntentHooks | undefined;
}

/** A removal retried after a crash that finds nothing to remove has already done its work. */
function alreadyDone(intent: Intent, err: HostwallError): boolean {
  return err.code === 'DEVICE_NOT_FOUND' && (intent.kind === 'port.unplug' || intent.kind === 'volume.detach');
}

async function run(intent: Intent, deps: DriverActionDeps, records: HostRecords, opts: IntentRunOptions): Promise<DriverActionResult> {
  try {
    return await driverAction(intent, deps, records);
  } catch (thrown) {
    const err = asHostwallError(thrown);
    const uuid = instanceOf(intent);
    if (!opts.recovering || !alreadyDone(intent, err) || uuid === undefined) throw err;
    deps.log.info('retried removal found the device already gone: done', { code: err.code });
    return { guest: await deps.driver.getState(uuid) };
  }
}

export async function runIntent(
  intent: Intent, request: IntentRequest, pubs: Promise<unknown>[], log: Logger, deps: IntentRunDeps, opts: IntentRunOptions,
): Promise<FinalOutcome> {
  const { book, events } = deps;
  const hooks = opts.hooks;
  const uuid = instanceOf(intent);
  const now = () => new Date().toISOString();
  const changes = definitionOf(intent.kind).scheduling === 'mutate' && uuid !== undefined;
  if (changes) {
    if (intent.kind === 'instance.spawn') book.fromSpawn(intent.args, now(), request);
    keep(pubs, events.novaPhase(intent, 'start', book.startTask(uuid, taskStateFor(intent)), request));
  }
  const started = Date.now();

  /** The intent failed; `hostChanged` when the driver did its work and only the sender's records refused it. */
  const fail = async (thrown: unknown, hostChanged: boolean): Promise<FinalOutcome> => {
    const err = asHostwallError(thrown);
    const info = errorInfo(err);
    log.warn(`failed: ${err.message}`, { code: err.code, duration_ms: Date.now() - started });
    let facts: InstanceView | undefined;
    if (changes) {
      if (hostChanged) book.setTask(uuid, null);
      else if (intent.kind === 'instance.spawn') book.markError(uuid);
      else book.setTask(uuid, null);
      facts = book.snapshot(uuid);
      if (facts) keep(pubs, events.novaPhase(intent, 'error', facts, request, info));
    }
    // The guest is gone, unless a task is still bringing it about: a read (get_state, console output)
    // that looks between a spawn's start and the guest's definition must not erase the spawn's facts.
    if (!hostChanged && err instanceof HostwallError && err.code === 'INSTANCE_NOT_FOUND' && uuid && (changes || !book.get(uuid)?.task_state)) {
      book.markDeleted(uuid, now());
    }
    if (hooks?.failed) await hooks.failed(info, facts);
    return { status: 'failed', intentId: request.intent_id, kind: intent.kind, error: info, instance: facts };
  };

  let res: DriverActionResult;
  try {
    if (hooks?.before) await hooks.before();
    res = await run(intent, { ...deps.exec, log }, { book, intents: deps.intents }, opts);
  } catch (thrown) {
    // Cut short by the worker's stop: not an outcome; the dispatcher leaves the message for redelivery.
    if (thrown instanceof StoppingError) throw thrown;
    return fail(thrown, false);
  }
  let facts: InstanceView | undefined;
  if (uuid && res.deleted) {
    facts = book.markDeleted(uuid, now());
  } else if (uuid && res.guest) {
    // The task ends first, so the settled power state also settles vm_state (InstanceBook.observe).
    if (changes) book.setTask(uuid, null);
    book.observe(uuid, res.guest.power_state, res.guest.name);
    if (changes) {
      trackDevices(book, intent, res);
      if (intent.kind === 'instance.spawn') book.launched(uuid, now());
    }
    facts = book.snapshot(uuid);
  }
  if (hooks?.succeeded) {
    try {
      await hooks.succeeded(facts);
    } catch (thrown) {
      return fail(thrown, true);
    }
  }
  if (changes && facts) {
    keep(pubs, events.novaPhase(intent, 'end', facts, request));
    keep(pubs, events.instanceState(facts, request, 'intent'));
  }
  log.info('succeeded', { duration_ms: Date.now() - started, power_state: facts?.power_state, live: res.live });
  return { status: 'succeeded', intentId: request.intent_id, kind: intent.kind, result: resultOf(intent, request, res, facts), instance: facts };
}

function trackDevices(book: InstanceBook, intent: Intent, res: DriverActionResult): void {
  switch (intent.kind) {
    case 'volume.attach':
      book.volumeAttached(intent.args.instance_uuid, intent.args.volume_id, res.device);
      break;
    case 'volume.detach':
      book.volumeDetached(intent.args.instance_uuid, intent.args.volume_id);
      break;
    case 'port.plug':
      book.portPlugged(intent.args.instance_uuid, intent.args.port);
      break;
    case 'port.unplug':
      book.portUnplugged(intent.args.instance_uuid, intent.args.port_id);
      break;
    default:
  }
}

/** The reply body of a call (REPLY_SCHEMAS): a read's value as it is; a change's value inside the outcome's frame. */
function resultOf(intent: Intent, request: IntentRequest, res: DriverActionResult, facts: InstanceView | undefined): unknown {
  if (res.value !== undefined) {
    if (definitionOf(intent.kind).scheduling === 'read') return res.value;
    return { intent_id: request.intent_id, kind: intent.kind, outcome: 'succeeded', ...(res.value as object) };
  }
  const instance = facts ? { instance_uuid: facts.uuid, power_state: facts.power_state, vm_state: facts.vm_state, task_state: facts.task_state } : undefined;
  if (intent.kind === 'instance.get_state') return instance;
  return {
    intent_id: request.intent_id,
    kind: intent.kind,
    outcome: 'succeeded',
    ...(instance ? { instance } : {}),
    ...(res.live !== undefined ? { live: res.live } : {}),
    ...(res.device !== undefined ? { device: res.device } : {}),
    ...(res.forced !== undefined ? { forced: res.forced } : {}),
    ...(res.existed !== undefined ? { existed: res.existed } : {}),
  };
}

