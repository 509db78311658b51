/**
 * One interface for every broker protocol. Nothing above this file knows
 * whether AMQP 0-9-1 or 1.0 runs; nothing in transport/ knows about intents.
 */

/**
 * What the transport does with a delivery once its handler is done with it:
 * the handler's answer (MessageHandler). Dead-lettering is not one of these:
 * the handler publishes the dead letter with its reason (confirmed), then
 * answers 'ack'.
 */
export type Settlement =
  | 'ack' // done (succeeded, failed, or dead-lettered by the handler): remove it
  | 'requeue' // not done (a failure before the outcome was final): deliver again now
  | 'leave'; // not started (the consumer is draining): held unsettled, redelivered once the channel or session closes

export interface InboundMessage {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly exchange: string;
  readonly routingKey: string;
  readonly queue: string;
  readonly headers: Readonly<Record<string, unknown>>;
  /** AMQP user_id property (RabbitMQ checks it against the connection's user). */
  readonly userId: string | undefined;
  readonly redelivered: boolean;
}

export interface OutboundMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly contentEncoding?: string;
  readonly headers?: Record<string, unknown>;
  /** Per-message TTL (oslo sets it on calls). */
  readonly expirationMs?: number;
  /** Fail the publish if no queue is bound (oslo replies are mandatory). */
  readonly mandatory?: boolean;
}

export type PublishResult = 'confirmed' | 'unroutable';

export interface ExchangeSpec {
  name: string;
  type: 'topic' | 'fanout' | 'direct' | 'headers';
  durable: boolean;
  autoDelete: boolean;
  arguments?: Record<string, unknown>;
}

export interface QueueSpec {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  arguments?: Record<string, unknown>;
}

export interface BindingSpec {
  queue: string;
  exchange: string;
  routingKey: string;
}

/** Exchanges, queues and bindings as data, declared again on every reconnect. */
export interface Topology {
  exchanges: ExchangeSpec[];
  queues: QueueSpec[];
  bindings: BindingSpec[];
}

/** What a passive declare tells about a queue. */
export interface QueueState {
  messages: number;
  consumers: number;
}

/**
 * Handles one delivery and answers what to do with it (rabbitmq-client's
 * Consumer handler). The transport settles it on the channel or session it
 * came on, once; if that is gone by then, nothing is sent: the broker has
 * already requeued it and will deliver it again. A handler that throws or
 * rejects has its delivery requeued (logged by the transport). The
 * transport counts the deliveries in its handlers (inFlight, drained).
 */
export type MessageHandler = (msg: InboundMessage) => Promise<Settlement>;

/** A handler for deliveries that are done once looked at (event tails, RPC replies): acked after `look` returns. */
export function ackOnReceipt(look: (msg: InboundMessage) => void): MessageHandler {
  return (msg) => {
    look(msg);
    return Promise.resolve('ack');
  };
}

export interface ConsumeOptions {
  /** Unsettled messages in flight per consumer (AMQP prefetch / link credit). */
  prefetch: number;
  /**
   * Queues of this call that this consumer must have to itself (one worker
   * per host: `<topic>.<host>`). consume() fails with QueueTakenError, and
   * consumes nothing, when another consumer holds one; after a reconnect the
   * group attaches again only once it has them back (retrying, as after any
   * refusal). The queue's declaration is not changed (it stays as oslo
   * declares it). How each transport enforces it, and where it cannot, is
   * said in its consumer (amqp091/consumer.ts, amqp10/receiver.ts).
   */
  exclusive?: readonly string[];
}

/**
 * Where reading a stream starts (RabbitMQ streams, `x-stream-offset`): the
 * first or last chunk, the next record written, an offset, or a time (the
 * broker finds it by chunk, so reading may start a little before it).
 */
export type StreamStart = 'first' | 'last' | 'next' | number | Date;

/** One record of a stream, with what it was written with. */
export interface StreamRecord {
  readonly offset: number;
  readonly exchange: string;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly userId: string | undefined;
  /** The AMQP timestamp property, when the publisher set one (no per-record broker time over 0-9-1). */
  readonly timestamp: Date | undefined;
  readonly body: Buffer;
}

/** A stream being read, in order; the broker sends ahead up to the prefetch. */
export interface StreamReader {
  /** The next record, or undefined when none arrived within `waitMs`; rejects with a TransportError when the broker ends the read. */
  next(waitMs: number): Promise<StreamRecord | undefined>;
  /**
   * Write a record to the end of the stream, over the connection that reads
   * it (so its headers reach the reader as written); resolves once the
   * broker confirmed it, a TransportError when there is no such stream.
   */
  append(record: { body: Buffer; contentType: string; headers: Record<string, unknown> }): Promise<void>;
  close(): Promise<void>;
}

/** A message taken from a queue, held unsettled until removed or its drain closes. */
export interface HeldDelivery {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  /** `<queue>#<n>`: which one, for an operator. */
  readonly ref: string;
  /** Take it out of the queue for good. */
  remove(): void;
}

/**
 * A queue's messages taken one at a time and held (basic.get without
 * auto-ack). close() gives back every one not removed, in its order: a
 * crash or a dry run loses nothing.
 */
export interface QueueDrain {
  /** Messages ready in the queue when the drain was opened. */
  readonly count: number;
  /** The next message, or undefined when the queue has none ready. */
  next(): Promise<HeldDelivery | undefined>;
  close(): Promise<void>;
}

/** What a health check asks of a transport (the worker's /readyz and /metrics). */
export interface TransportHealth {
  /** A connection to the broker is up now. */
  connected: boolean;
  /** consume() was called and every consumer is attached on the live connection. */
  consuming: boolean;
  /** Connections made after the first one (reconnects and failovers). */
  reconnects: number;
  /** The host of the live (or last) connection, password hidden. */
  broker: string | undefined;
}

export interface Transport {
  /** Connect; resolves when the first connection is up. */
  start(): Promise<void>;
  /** Declare (idempotently) and remember, so it is declared again after a reconnect. */
  declare(topology: Topology): Promise<void>;
  /** Consume queues; consumption resumes by itself after a reconnect. */
  consume(queues: string[], opts: ConsumeOptions, handler: MessageHandler): Promise<void>;
  /** Stop delivering new messages; deliveries already in a handler are still settled when it answers. */
  cancelConsumers(): Promise<void>;
  /** Deliveries in a handler now (handed to it, not yet answered). */
  inFlight(): number;
  /** Resolves when no delivery is in a handler: after cancelConsumers(), the drain is over. */
  drained(): Promise<void>;
  /** Resolves when the broker confirmed the message (or returned it, if mandatory). */
  publish(msg: OutboundMessage): Promise<PublishResult>;
  /**
   * A queue's messages and consumers, or undefined when the broker has no such
   * queue (e.g. before `send`: is a worker consuming that host's queue?).
   * Optional: a transport that cannot look (AMQP 1.0 without a 0-9-1 admin
   * connection) leaves it out.
   */
  inspectQueue?(queue: string): Promise<QueueState | undefined>;
  /**
   * Read a stream from `from` on this transport's connection (its TLS and
   * deadlines). Optional: a transport without a RabbitMQ connection (AMQP
   * 1.0 generic family) leaves it out.
   */
  readStream?(stream: string, from: StreamStart, o: { prefetch: number }): Promise<StreamReader>;
  /** Take a queue's messages, held (QueueDrain); a missing queue is a TransportError naming it. Optional like readStream. */
  drainQueue?(queue: string): Promise<QueueDrain>;
  /** The connection and its consumers now, without I/O. Optional: a transport that cannot tell leaves it out. */
  health?(): TransportHealth;
  close(): Promise<void>;
}
