/**
 * The Transport over AMQP 1.0 (rhea): one connection kept alive by
 * Amqp10Connection, a publish session with sender links, one session per
 * consume() call, and topology declared over a 0-9-1 admin connection
 * (RabbitMQ families) and declared again every time the 1.0 connection
 * comes up. Address strings come from the configured broker family.
 *
 * Differences from the 0-9-1 transport that callers can observe (all forced
 * by the broker, see the files for the measurements):
 * - RabbitMQ 3.x: no 'unroutable' (mandatory publishes are 'confirmed' even
 *   when nothing receives them); `exchange` of an inbound message is "" (3.x
 *   does not say); headers do not cross between 0-9-1 and 1.0 peers as
 *   headers; a routing key "" to a named exchange is refused (poison bug).
 * - Exclusive queues are declared auto-delete + x-expires (see topology-admin.ts).
 */
import { TransportError } from '../../errors';
import { errorText } from '../timing';
import { transportHealth } from '../health';
import { InFlight } from '../in-flight';
import { checkConsume } from '../consume-args';
import type { ConsumeOptions, MessageHandler, OutboundMessage, PublishResult, QueueState, Topology, Transport, TransportHealth } from '../transport';
import { Amqp10Connection, type Live } from './connection';
import { type Amqp10Options, type CompiledOptions, compileOptions } from './options';
import { ReceiverGroup } from './receiver';
import { Publisher } from './sender';
import { TopologyAdmin } from './topology-admin';

export class Amqp10Transport implements Transport {
  private readonly opts: CompiledOptions;
  private readonly conn: Amqp10Connection;
  private readonly publisher: Publisher;
  private readonly topology: TopologyAdmin;
  private readonly groups: ReceiverGroup[] = [];
  private readonly handling: InFlight;
  private started = false;
  private closed = false;
  /** Present when topology goes through the 0-9-1 admin connection (RabbitMQ families): 1.0 itself cannot look at a queue. */
  readonly inspectQueue: ((queue: string) => Promise<QueueState | undefined>) | undefined;
  /** Streams and queue drains go through the same 0-9-1 admin connection, when there is one. */
  readonly readStream: Transport['readStream'];
  readonly drainQueue: Transport['drainQueue'];

  constructor(options: Amqp10Options) {
    this.opts = compileOptions(options);
    this.topology = new TopologyAdmin(this.opts);
    this.inspectQueue = this.topology.queueInspector;
    this.readStream = this.topology.streamReader;
    this.drainQueue = this.topology.queueDrainer;
    this.conn = new Amqp10Connection(this.opts, { onUp: (live) => this.onUp(live) });
    this.publisher = new Publisher(this.conn, this.opts);
    this.handling = new InFlight(this.opts.log);
  }

  /** The AMQP container id of the 1.0 connection (the admin connection is named `<it>:topology`). */
  get connectionName(): string {
    return this.opts.connectionName;
  }

  /** How many 1.0 connections this transport has made (1 after start, +1 per reconnect). */
  get connectionGeneration(): number {
    return this.conn.generation;
  }

  health(): TransportHealth {
    return transportHealth(this.conn, this.groups);
  }

  /** The broker family whose address strings are used. */
  get addressFamily(): CompiledOptions['family'] {
    return this.opts.family;
  }

  /** Connect the topology (0-9-1) connection, then the 1.0 connection; resolves when both are up. */
  async start(): Promise<void> {
    if (this.started) throw new TransportError('transport already started');
    this.started = true;
    try {
      await this.topology.start();
      await this.conn.start();
    } catch (err) {
      await this.topology.close().catch(() => undefined);
      await this.conn.close().catch(() => undefined);
      throw err instanceof TransportError ? err : new TransportError(`cannot start the AMQP 1.0 transport: ${errorText(err)}`);
    }
  }

  async declare(topology: Topology): Promise<void> {
    if (this.closed) throw new TransportError('transport is closed');
    await this.topology.declare(topology);
  }

  async consume(queues: string[], opts: ConsumeOptions, handler: MessageHandler): Promise<void> {
    if (this.closed) throw new TransportError('transport is closed');
    const exclusive = checkConsume(queues, opts);
    const inspect = this.inspectQueue;
    const group = new ReceiverGroup(queues, opts.prefetch, handler, {
      conn: this.conn,
      opts: this.opts,
      redeclare: () => this.topology.redeclareAll(),
      claim: this.topology.declares ? (q) => this.topology.claim(q) : undefined,
      consumers: inspect ? async (q) => (await inspect(q))?.consumers : undefined,
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

  /** Cancel consumers, let outstanding dispositions arrive (bounded), end sessions, close both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.cancelConsumers();
    await this.publisher.close();
    await Promise.all(this.groups.map((g) => g.close()));
    await this.conn.close();
    await this.topology.close();
  }

  /** A (new) 1.0 connection: declare the topology again, then let every consumer group attach. */
  private async onUp(_live: Live): Promise<void> {
    await this.topology.redeclareAll();
    for (const g of this.groups) g.kick();
  }
}

/** The AMQP 1.0 transport; call start() before anything else. */
export function createAmqp10Transport(options: Amqp10Options): Amqp10Transport {
  return new Amqp10Transport(options);
}
