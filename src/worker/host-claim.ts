/**
 * One worker per host (docs/design.md#topology): the broker lets one consumer have
 * `<topic>.<host>` (transport/claim.ts), so a second worker for the same host
 * (another state path, `docker-compose up --scale`) cannot split its
 * traffic. That second worker either refuses to start (the default: it
 * fails with QUEUE_TAKEN, naming the queue) or, with `standby`, waits and
 * takes over once the first one has gone, saying which in its log.
 *
 * It looks early, before it touches the hypervisor, reconciles its store or
 * publishes anything (a passive declare: does the queue have a consumer?),
 * and the exclusive consume at the end of start-up is what decides: two
 * workers starting together both pass the early look, and the broker gives
 * the queue to one of them. The shared topic queue and the fanout queue are
 * shared by every host by design and stay so.
 */
import { QueueTakenError } from '../errors';
import type { Logger } from '../log';
import type { Transport } from '../transport/transport';

export interface HostClaim {
  transport: Transport;
  host: string;
  /** `<topic>.<host>`. */
  queue: string;
  /** Wait for the queue (true) or refuse to start (false). */
  standby: boolean;
  /** How often a standby looks again. */
  retryMs: number;
  log: Logger;
  /** The worker is being stopped: a standby gives up waiting. */
  stopping: () => boolean;
}

function refusal(c: HostClaim, why: string): QueueTakenError {
  return new QueueTakenError(`another worker serves host "${c.host}" (${why}): this one refuses to start. Stop the other one, or run this one with --standby true (HOSTWALL_STANDBY=true) to take over when it goes away`, { queue: c.queue });
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Resolves once nobody consumes the host's queue (false: stopped while waiting); throws when not a standby. */
export async function awaitHostFree(c: HostClaim): Promise<boolean> {
  const look = c.transport.inspectQueue?.bind(c.transport);
  if (!look) return true; // the exclusive consume still decides
  let said = false;
  for (;;) {
    const state = await look(c.queue);
    if (state === undefined || state.consumers === 0) {
      if (said) c.log.info('standby: taking over', { host: c.host, queue: c.queue });
      return true;
    }
    if (!c.standby) throw refusal(c, `${c.queue} has ${state.consumers} consumer(s)`);
    if (!said) c.log.warn('standby: another worker serves this host; waiting to take over when it goes away', { host: c.host, queue: c.queue, consumers: state.consumers, retry_s: c.retryMs / 1000 });
    said = true;
    await pause(c.retryMs);
    if (c.stopping()) return false;
  }
}

/** `consume`, with the queue to itself: refused (QueueTakenError) or, as a standby, retried until it is free. */
export async function consumeAsOwner(c: HostClaim, consume: () => Promise<void>): Promise<boolean> {
  let said = false;
  for (;;) {
    try {
      await consume();
      if (said) c.log.info('standby: taking over', { host: c.host, queue: c.queue });
      return true;
    } catch (err) {
      if (!(err instanceof QueueTakenError)) throw err;
      if (!c.standby) throw refusal(c, err.message);
      if (!said) c.log.warn('standby: another worker took this host first; waiting to take over when it goes away', { host: c.host, queue: c.queue, error: err.message, retry_s: c.retryMs / 1000 });
      said = true;
    }
    await pause(c.retryMs);
    if (c.stopping()) return false;
  }
}
