/**
 * AMQP 1.0 has no exchanges or routing keys: a broker maps address strings
 * onto its own model, and each broker family spells them differently. An
 * AddressBook turns the transport's (exchange, routing key) and queue names
 * into the address strings of one family.
 *
 * - rabbitmq3 (the rabbitmq_amqp1_0 plugin of 3.x, "v1" addresses; measured on
 *   3.10.8, docs/oslo-wire.md#amqp-10-addresses):
 *     exchange X, key K → target `/exchange/X/K`   (one link per X/K)
 *     default exchange, key Q → target `/queue`, subject Q (one link for all
 *                        replies; the plugin declares nothing for this form)
 *     queue Q → source `/amq/queue/Q`             (Q must exist; never declared)
 *   Never `/exchange/X` without a key: 3.10 routes it with an undefined key and
 *   every 0-9-1 consumer of the message has its connection closed (541), a
 *   poison loop. We refuse an empty key there instead. Never `/queue/Q` or a
 *   bare `Q` either: they declare Q (without oslo's arguments) and fail with
 *   precondition-failed on an existing oslo reply queue.
 * - rabbitmq4 (native 1.0 of 4.x, "v2" addresses, percent-encoded segments):
 *     every publish goes over ONE anonymous sender link (null target) with the
 *     message's `to` = `/exchanges/X/K` or `/queues/Q` (RabbitMQ's advice for
 *     many destinations); queue Q → source `/queues/Q`.
 *     4.x settles an unroutable message `released`, so mandatory publishes can
 *     be told 'unroutable' as over 0-9-1.
 * - generic (Artemis, Qpid Dispatch…): the operator's templates, with
 *   placeholders {exchange}, {routingKey}, {queue}. Defaults: exchange target
 *   `{exchange}/{routingKey}`, default-exchange target `{routingKey}`, source
 *   `{queue}`. The subject always carries the routing key.
 */
import { z } from 'zod';
import { TransportError } from '../../errors';

export type AddressFamily = 'rabbitmq3' | 'rabbitmq4' | 'generic';

export const AddressTemplatesSchema = z
  .object({
    /** Target for a publish to a named exchange. */
    exchange: z.string().min(1).default('{exchange}/{routingKey}'),
    /** Target for a publish to the default exchange ("" → straight to queue {queue} = {routingKey}). */
    queue: z.string().min(1).default('{routingKey}'),
    /** Source of a consumer of queue {queue}. */
    source: z.string().min(1).default('{queue}'),
  })
  .strict();
export type AddressTemplates = z.input<typeof AddressTemplatesSchema>;

/** Where one message goes: over which link, and what it carries to say where. */
export interface Route {
  /** Target address of the sender link; null = the anonymous terminus (per-message `to`). */
  readonly link: string | null;
  /** The message's `to` (only with an anonymous link). */
  readonly to?: string;
  /** The message's subject: the routing key (3.x's `/queue` target reads the queue name from it). */
  readonly subject: string;
}

export interface AddressBook {
  readonly family: AddressFamily;
  /** Throws TransportError when the pair cannot be expressed safely in this family. */
  target(exchange: string, routingKey: string): Route;
  source(queue: string): string;
  /** Whether the broker settles a routed-nowhere publish as `released` (RabbitMQ 4), so it can mean 'unroutable'. */
  readonly releasedMeansUnroutable: boolean;
}

/** RFC 3986 percent-encoding of one path segment (encodeURIComponent leaves !'()* alone). */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function refuse(why: string, exchange: string, routingKey: string): never {
  throw new TransportError(why, { exchange, routing_key: routingKey, outcome: 'not_sent' });
}

/** v1 has no escaping: a "/" inside a name would shift the segments and address something else. */
function v1Segment(kind: string, value: string, exchange: string, routingKey: string): string {
  if (value.includes('/')) refuse(`${kind} "${value}" contains "/", which RabbitMQ 3.x AMQP 1.0 addresses cannot express`, exchange, routingKey);
  return value;
}

const isDefault = (exchange: string): boolean => exchange === '' || exchange === 'amq.default';

const rabbitmq3: AddressBook = {
  family: 'rabbitmq3',
  releasedMeansUnroutable: false,
  target(exchange, routingKey) {
    if (routingKey === '') {
      // The poison bug (docs/oslo-wire.md#amqp-10-addresses): an exchange target without a key. There is no safe spelling of "" in v1.
      refuse(
        `publishing to exchange "${exchange}" with an empty routing key is refused over AMQP 1.0 on RabbitMQ 3.x ` +
          '(it would close the connection of every 0-9-1 consumer of the message); use a non-empty key',
        exchange,
        routingKey,
      );
    }
    if (isDefault(exchange)) return { link: '/queue', subject: routingKey };
    const x = v1Segment('exchange', exchange, exchange, routingKey);
    const k = v1Segment('routing key', routingKey, exchange, routingKey);
    return { link: `/exchange/${x}/${k}`, subject: routingKey };
  },
  source(queue) {
    return `/amq/queue/${v1Segment('queue', queue, '', queue)}`;
  },
};

const rabbitmq4: AddressBook = {
  family: 'rabbitmq4',
  releasedMeansUnroutable: true,
  target(exchange, routingKey) {
    if (isDefault(exchange)) {
      if (routingKey === '') refuse('a publish to the default exchange needs a queue name as routing key', exchange, routingKey);
      return { link: null, to: `/queues/${encodeSegment(routingKey)}`, subject: routingKey };
    }
    const to = routingKey === '' ? `/exchanges/${encodeSegment(exchange)}` : `/exchanges/${encodeSegment(exchange)}/${encodeSegment(routingKey)}`;
    return { link: null, to, subject: routingKey };
  },
  source(queue) {
    return `/queues/${encodeSegment(queue)}`;
  },
};

/** Substitute {exchange}, {routingKey}, {queue}; an unknown placeholder is a configuration error, found at start. */
export function fillTemplate(template: string, values: Record<'exchange' | 'routingKey' | 'queue', string>): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (_, name: string) => {
    if (name === 'exchange' || name === 'routingKey' || name === 'queue') return values[name];
    throw new TransportError(`address template "${template}" has an unknown placeholder {${name}} (known: {exchange}, {routingKey}, {queue})`);
  });
}

function generic(templates: AddressTemplates | undefined): AddressBook {
  const t = AddressTemplatesSchema.parse(templates ?? {});
  // Fail on a bad placeholder now, not at the first publish.
  for (const tpl of [t.exchange, t.queue, t.source]) fillTemplate(tpl, { exchange: 'x', routingKey: 'k', queue: 'q' });
  return {
    family: 'generic',
    releasedMeansUnroutable: false,
    target(exchange, routingKey) {
      const values = { exchange, routingKey, queue: routingKey };
      return { link: fillTemplate(isDefault(exchange) ? t.queue : t.exchange, values), subject: routingKey };
    },
    source(queue) {
      return fillTemplate(t.source, { exchange: '', routingKey: queue, queue });
    },
  };
}

export function addressBook(family: AddressFamily, templates?: AddressTemplates): AddressBook {
  switch (family) {
    case 'rabbitmq3':
      return rabbitmq3;
    case 'rabbitmq4':
      return rabbitmq4;
    case 'generic':
      return generic(templates);
  }
}
