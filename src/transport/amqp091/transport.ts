/**
 * The Transport over AMQP 0-9-1 (amqplib): one connection kept alive by
 * BrokerConnection, a confirm channel for publishing, one channel per
 * consume() call, and topology remembered as data and declared again every
 * time a connection comes up (rabbitmq-client's `_setup` habit).
 */
import type { ChannelModel } from 'amqplib';
import { TransportError } from '../../errors';
import { transportHealth } from '../health';
import { InFlight } from '../in-flight';
import { checkConsume } from '../consume-args';
import type { ConsumeOptions, MessageHandler, OutboundMessage, PublishResult, QueueDrain, QueueState, StreamReader, StreamStart, Topology, Transport, TransportHealth } from '../transport';
import { BrokerConnection } from './connection';
import { ConsumerGroup } from './consumer';
import { declareTopology, deleteQueue, inspectQueue } from './declare';
import { type Amqp091Options, type CompiledOptions, compileOptions } from './options';
import { ConfirmPublisher } from './publisher';
import { openQueueDrain } from './queue-drain';
import { openStreamReader } from './stream-reader';
import { errorText } from '../timing';

export class Amqp091Transport implements Transport {
  private readonly opts: CompiledOptions;
  private readonly conn: BrokerConnection;
  private readonly publisher: ConfirmPublisher;
  /** Declared successfully once, so declared again after every reconnect (in this order). */
  private readonly topologies = new Map<string, Topology>();
  private readonly groups: ConsumerGroup[] = [];
  private readonly handling: InFlight;
  /** Declarations run one at a time: a reconnect's re-declare and a new declare() never interleave. */
  private declaring: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: Amqp091Options) {
    this.opts = compileOptions(options);
    this.conn = new BrokerConnection(this.opts, { onUp: (model) => this.onUp(model) });
    this.publisher = new ConfirmPublisher(this.conn, this.opts);
    this.handling = new InFlight(this.opts.log);
  }

  /** The broker connection's name (client property `connection_name`). */
  get connectionName(): string {
    return this.opts.connectionName;
  }

  /** How many connections this transport has made (1 after start, +1 per reconnect). */
  get connectionGeneration(): number {
    return this.conn.generation;
  }

  async start(): Promise<void> {
    await this.conn.start();
  }

  async declare(topology: Topology): Promise<void> {
    if (this.closed) throw new TransportError('transport is closed');
    const model = await this.conn.whenUp(this.opts.operationTimeoutMs);
    await this.serialized(() => declareTopology(model, topology, this.opts.operationTimeoutMs));
    // Remembered only once the broker accepted it: a refused topology would fail every reconnect.
    this.topologies.set(JSON.stringify(topology), topology);
  }

  async consume(queues: string[], opts: ConsumeOptions, handler: MessageHandler): Promise<void> {
    if (this.closed) throw new TransportError('transport is closed');
    const exclusive = checkConsume(queues, opts);
    const group = new ConsumerGroup(queues, opts.prefetch, handler, {
      conn: this.conn,
      opts: this.opts,
      redeclare: (model) => this.redeclareAll(model),
      inFlight: this.handling,
    }, exclusive);
    await group.start();
    this.groups.push(group);
  }

  async cancelConsumers(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.cancel()));
  }

  inFlight(): number {
    return this.handling.size;
  }

  drained(): Promise<void> {
    return this.handling.drained();
  }

  publish(msg: OutboundMessage): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new TransportError('transport is closed'));
    return this.publisher.publish(msg);
  }

  async inspectQueue(queue: string): Promise<QueueState | undefined> {
    if (this.closed) throw new TransportError('transport is closed');
    const model = await this.conn.whenUp(this.opts.operationTimeoutMs);
    return inspectQueue(model, queue, this.opts.operationTimeoutMs);
  }

  async readStream(stream: string, from: StreamStart, o: { prefetch: number }): Promise<StreamReader> {
    if (this.closed) throw new TransportError('transport is closed');
    const model = await this.conn.whenUp(this.opts.operationTimeoutMs);
    return openStreamReader(model, stream, from, o.prefetch, this.opts.operationTimeoutMs);
  }

  async drainQueue(queue: string): Promise<QueueDrain> {
    if (this.closed) throw new TransportError('transport is closed');
    const model = await this.conn.whenUp(this.opts.operationTimeoutMs);
    return openQueueDrain(model, queue, this.opts.operationTimeoutMs);
  }

  /**
   * Delete a queue with its messages (RabbitMQ deletes a missing one
   * silently); resolves with how many it held. For tools that clean up what
   * they made (`hostwall demo`); a queue this transport declared would be
   * declared again at the next reconnect.
   */
  async deleteQueue(queue: string): Promise<number> {
    if (this.closed) throw new TransportError('transport is closed');
    const model = await this.conn.whenUp(this.opts.operationTimeoutMs);
    return deleteQueue(model, queue, this.opts.operationTimeoutMs);
  }

  /** The host of the live (or last) connection, password hidden. */
  get connectedTo(): string | undefined {
    return this.conn.connectedTo;
  }

  health(): TransportHealth {
    return transportHealth(this.conn, this.groups);
  }

  /** Cancel consumers, let outstanding confirms arrive (bounded), close channels and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.cancelConsumers();
    await this.publisher.close();
    await Promise.all(this.groups.map((g) => g.close()));
    await this.conn.close();
  }

  private async onUp(model: ChannelModel): Promise<void> {
    this.publisher.reset();
    await this.redeclareAll(model);
    for (const g of this.groups) g.kick();
  }

  /**
   * Declare every remembered topology again. A refusal is logged with its
   * explanation and does not stop the others: consumers of queues that exist
   * can resume even if, say, someone re-created one queue with other flags.
   */
  private redeclareAll(model: ChannelModel): Promise<void> {
    return this.serialized(async () => {
      for (const t of this.topologies.values()) {
        try {
          await declareTopology(model, t, this.opts.operationTimeoutMs);
        } catch (err) {
          this.opts.log('error', 'declaring topology again failed', { error: errorText(err) });
        }
      }
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.declaring.then(fn, fn);
    this.declaring = run.catch(() => undefined);
    return run;
  }
}

/** The AMQP 0-9-1 transport; call start() before anything else. */
export function createAmqp091Transport(options: Amqp091Options): Amqp091Transport {
  return new Amqp091Transport(options);
}
