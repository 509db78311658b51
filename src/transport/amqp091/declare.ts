/**
 * Declare a Topology (exchanges, then queues, then bindings) on a channel of
 * its own: a refused declaration (406 PRECONDITION_FAILED when flags differ
 * from the existing object, 405 for another connection's exclusive queue,
 * 403, 404) closes the channel it was made on, and must not take the
 * publisher's or a consumer's channel with it.
 *
 * A refusal becomes a TransportError that names the object, what the broker
 * has and what we asked for, since "inequivalent arg" alone tells an
 * operator little about which setting to change.
 */
import type { Channel, ChannelModel } from 'amqplib';
import { TransportError } from '../../errors';
import type { BindingSpec, ExchangeSpec, QueueSpec, QueueState, Topology } from '../transport';
import { amqpCode, errorText, withTimeout } from '../timing';

type Step =
  | { kind: 'exchange'; spec: ExchangeSpec }
  | { kind: 'queue'; spec: QueueSpec }
  | { kind: 'binding'; spec: BindingSpec };

function stepsOf(t: Topology): Step[] {
  return [
    // The default exchange ("") exists everywhere and can be neither declared nor bound.
    ...t.exchanges.filter((e) => e.name !== '').map((spec): Step => ({ kind: 'exchange', spec })),
    ...t.queues.map((spec): Step => ({ kind: 'queue', spec })),
    ...t.bindings.filter((b) => b.exchange !== '').map((spec): Step => ({ kind: 'binding', spec })),
  ];
}

function describeStep(s: Step): string {
  switch (s.kind) {
    case 'exchange':
      return `exchange "${s.spec.name}"`;
    case 'queue':
      return `queue "${s.spec.name}"`;
    case 'binding':
      return `binding of queue "${s.spec.queue}" to exchange "${s.spec.exchange}" (key "${s.spec.routingKey}")`;
  }
}

/** The flags we asked for, in the broker's vocabulary, for the error message. */
function askedFlags(s: Step): Record<string, unknown> {
  switch (s.kind) {
    case 'exchange':
      return { type: s.spec.type, durable: s.spec.durable, auto_delete: s.spec.autoDelete, arguments: s.spec.arguments ?? {} };
    case 'queue':
      return {
        durable: s.spec.durable, auto_delete: s.spec.autoDelete, exclusive: s.spec.exclusive, arguments: s.spec.arguments ?? {},
      };
    case 'binding':
      return { exchange: s.spec.exchange, queue: s.spec.queue, routing_key: s.spec.routingKey };
  }
}

const INEQUIVALENT = /inequivalent arg '([^']+)' for (?:queue|exchange) '.*?' in vhost '([^']*)': received (.+?) but current is (.+?)"?$/;

/** Turn a broker refusal into an error an operator can act on. */
export function explainDeclareError(s: Step, err: unknown): TransportError {
  const text = errorText(err);
  const code = amqpCode(err);
  const what = describeStep(s);
  const asked = askedFlags(s);
  const m = INEQUIVALENT.exec(text);
  if (code === 406 && m) {
    const [, arg = '?', vhost = '', received = '?', current = '?'] = m;
    return new TransportError(
      `${what} already exists in vhost "${vhost}" with different flags: its "${arg}" is ${current} on the broker, ` +
        `but this declaration asked for ${received} (asked: ${JSON.stringify(asked)}). The broker keeps the flags ` +
        'of the first declaration: configure the same flags as the services already sharing this broker ' +
        "(for oslo.messaging objects, hostwall's queues setting transient|durable|quorum must match their " +
        'amqp_durable_queues / rabbit_quorum_queue), or delete the object so it is declared again.',
      { object: s.kind, name: 'name' in s.spec ? s.spec.name : s.spec.queue, vhost, argument: arg, broker_has: current, asked_for: received, asked, amqp_code: code },
    );
  }
  const hint =
    code === 405
      ? ' (an exclusive queue of another connection has this name)'
      : code === 403
        ? ' (the user lacks configure/write permission on it in this vhost)'
        : code === 404
          ? ' (what it refers to does not exist: declare the exchange and queue first)'
          : '';
  return new TransportError(`declaring ${what} failed${hint}: ${text}`, { object: s.kind, asked, amqp_code: code ?? null });
}

/**
 * Declare everything on a fresh channel, then close it. Idempotent when the
 * broker already has the same objects. Throws the explained TransportError of
 * the first refusal; nothing after it is declared.
 */
export async function declareTopology(model: ChannelModel, topology: Topology, timeoutMs: number): Promise<void> {
  const steps = stepsOf(topology);
  if (steps.length === 0) return;
  const ch = await withTimeout(model.createChannel(), timeoutMs, 'opening a channel to declare topology', (late) => {
    void late.close().catch(() => undefined);
  });
  // A refusal arrives both as the rejected RPC and as a channel 'error' event; the latter must have a listener.
  ch.on('error', () => undefined);
  try {
    for (const s of steps) {
      try {
        await withTimeout(declareStep(ch, s), timeoutMs, `declaring ${describeStep(s)}`);
      } catch (err) {
        // Our own timeouts are already TransportErrors; broker refusals get explained.
        throw err instanceof TransportError ? err : explainDeclareError(s, err);
      }
    }
  } finally {
    await withTimeout(ch.close(), timeoutMs, 'closing the declare channel').catch(() => undefined);
  }
}

/** A passive declare on a fresh channel: the queue's counts, or undefined when there is no such queue (404). */
export async function inspectQueue(model: ChannelModel, queue: string, timeoutMs: number): Promise<QueueState | undefined> {
  const ch = await withTimeout(model.createChannel(), timeoutMs, 'opening a channel to look at a queue', (late) => {
    void late.close().catch(() => undefined);
  });
  ch.on('error', () => undefined); // a 404 closes the channel and is also emitted as an event
  try {
    const ok = await withTimeout(ch.checkQueue(queue), timeoutMs, `looking at queue ${queue}`);
    return { messages: ok.messageCount, consumers: ok.consumerCount };
  } catch (err) {
    if (amqpCode(err) === 404) return undefined;
    throw err instanceof TransportError ? err : new TransportError(`looking at queue ${queue}: ${errorText(err)}`);
  } finally {
    await withTimeout(ch.close(), timeoutMs, 'closing the channel').catch(() => undefined);
  }
}

/** Delete a queue and what it holds; resolves with the messages it held (0 when there was no such queue). */
export async function deleteQueue(model: ChannelModel, queue: string, timeoutMs: number): Promise<number> {
  const ch = await withTimeout(model.createChannel(), timeoutMs, 'opening a channel to delete a queue', (late) => {
    void late.close().catch(() => undefined);
  });
  ch.on('error', () => undefined);
  try {
    const ok = await withTimeout(ch.deleteQueue(queue), timeoutMs, `deleting queue ${queue}`);
    return ok.messageCount;
  } catch (err) {
    throw err instanceof TransportError ? err : new TransportError(`deleting queue ${queue}: ${errorText(err)}`);
  } finally {
    await withTimeout(ch.close(), timeoutMs, 'closing the channel').catch(() => undefined);
  }
}

/**
 * Integer arguments typed as py-amqp (kombu, hence oslo) writes them: signed
 * 32-bit ('I'), 64-bit beyond. amqplib would pick the smallest type (5 → byte);
 * RabbitMQ treats integer types as equivalent, but with the same types our
 * declarations are byte-for-byte oslo's (and `list_queues` shows no difference).
 */
export function wireArguments(args: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args ?? {})) {
    out[k] = typeof v === 'number' && Number.isSafeInteger(v) ? { '!': v >= -0x80000000 && v < 0x80000000 ? 'int' : 'long', value: v } : v;
  }
  return out;
}

function declareStep(ch: Channel, s: Step): Promise<unknown> {
  switch (s.kind) {
    case 'exchange':
      return ch.assertExchange(s.spec.name, s.spec.type, {
        durable: s.spec.durable, autoDelete: s.spec.autoDelete, internal: false, arguments: wireArguments(s.spec.arguments),
      });
    case 'queue':
      return ch.assertQueue(s.spec.name, {
        durable: s.spec.durable, autoDelete: s.spec.autoDelete, exclusive: s.spec.exclusive, arguments: wireArguments(s.spec.arguments),
      });
    case 'binding':
      return ch.bindQueue(s.spec.queue, s.spec.exchange, s.spec.routingKey);
  }
}
