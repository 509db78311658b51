/**
 * Small typed seams over rhea, whose typings are loose (`any` in many
 * places): reading AMQP errors, awaiting one of several endpoint events, and
 * getting rid of a connection for good.
 */
import type { EventEmitter } from 'node:events';
import type { Connection, Receiver } from 'rhea';
import { TransportError } from '../../errors';

export interface AmqpErrorInfo {
  condition: string | undefined;
  description: string;
}

function field(o: object, key: string): unknown {
  return key in o ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * An AMQP error in whatever shape rhea hands it over: {condition, description}
 * (usually), an Error, or — for some session ends from RabbitMQ 3.x — the raw
 * described list `{value: [Typed(condition), Typed(description), Typed(info)]}`.
 */
export function amqpError(e: unknown): AmqpErrorInfo {
  if (e === undefined || e === null) return { condition: undefined, description: 'no error given' };
  if (typeof e !== 'object') return { condition: undefined, description: String(e) };
  const condition = field(e, 'condition');
  const description = field(e, 'description') ?? field(e, 'message');
  if (typeof condition === 'string' || typeof description === 'string') {
    return { condition: typeof condition === 'string' ? condition : undefined, description: typeof description === 'string' ? description : '' };
  }
  const list = field(e, 'value');
  if (Array.isArray(list)) {
    const texts = list.map((t: unknown) => (typeof t === 'object' && t !== null ? field(t, 'value') : t));
    const [c, d] = texts;
    return { condition: typeof c === 'string' ? c : undefined, description: typeof d === 'string' ? d : '' };
  }
  return { condition: undefined, description: e instanceof Error ? e.message : JSON.stringify(e) };
}

export function amqpErrorText(e: unknown): string {
  const { condition, description } = amqpError(e);
  if (condition && description) return `${condition}: ${description}`;
  return condition ?? description;
}

export interface FirstEvent {
  /** Resolves with the name of the first of the events that fired, and its argument. */
  readonly fired: Promise<{ event: string; arg: unknown }>;
  /** Stop listening (the promise then never settles). */
  cancel(): void;
}

/** Await the first of `events` on `emitter`; every listener it added is removed once one fires or on cancel(). */
export function firstEvent(emitter: EventEmitter, events: readonly string[]): FirstEvent {
  const listeners = new Map<string, (arg: unknown) => void>();
  const cancel = (): void => {
    for (const [name, fn] of listeners) emitter.removeListener(name, fn);
    listeners.clear();
  };
  const fired = new Promise<{ event: string; arg: unknown }>((resolve) => {
    for (const event of events) {
      const fn = (arg: unknown): void => {
        cancel();
        resolve({ event, arg });
      };
      listeners.set(event, fn);
      emitter.on(event, fn);
    }
  });
  return { fired, cancel };
}

/** Reject with a TransportError after `ms`, cancelling the wait. */
export async function awaitFirst(emitter: EventEmitter, events: readonly string[], ms: number, what: string): Promise<{ event: string; arg: unknown }> {
  const wait = firstEvent(emitter, events);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      wait.cancel();
      reject(new TransportError(`${what} timed out after ${ms} ms`, { operation: what, timeout_ms: ms }));
    }, Math.max(0, ms));
  });
  try {
    return await Promise.race([wait.fired, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** rhea keeps its socket in an untyped field; we only need to destroy it. */
function socketOf(conn: Connection): { destroy(): void } | undefined {
  const s: unknown = field(conn, 'socket');
  if (typeof s === 'object' && s !== null && 'destroy' in s && typeof s.destroy === 'function') {
    const destroy = s.destroy.bind(s) as () => void;
    return { destroy };
  }
  return undefined;
}

/**
 * Close the connection politely and make sure its socket is gone after
 * `graceMs`, whatever the broker does: a half-open TCP connection would
 * otherwise keep a dead rhea connection (and its timers) alive.
 */
export function dispose(conn: Connection, graceMs = 2000): void {
  try {
    conn.close();
  } catch {
    // Already closed or never opened.
  }
  const timer = setTimeout(() => socketOf(conn)?.destroy(), graceMs);
  timer.unref();
}

/**
 * Take back a receiver's unused credit: a flow with link-credit 0 (credit is
 * absolute in AMQP 1.0). rhea has no API for lowering credit, only for adding
 * it and for `drain`, and drain with credit outstanding crashes RabbitMQ
 * 3.10's session on classic queues (function_clause in
 * rabbit_classic_queue:handle_event({send_drained,…}) → session ended with
 * amqp:internal-error, unsettled messages requeued). Returns false if rhea's
 * internals are not what this expects (then nothing was sent).
 */
export function revokeCredit(receiver: Receiver): boolean {
  const link: object = receiver;
  const register: unknown = field(receiver.connection, '_register');
  if (typeof field(link, 'credit') !== 'number' || typeof field(link, 'issue_flow') !== 'boolean' || typeof register !== 'function') return false;
  Object.assign(link, { credit: 0, issue_flow: true });
  register.call(receiver.connection);
  return true;
}
