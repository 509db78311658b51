/**
 * A consumer group: the queues of one consume() call on a channel of their
 * own, with basic.qos prefetch per consumer and manual acks.
 *
 * Contracts:
 * - A delivery is settled with its handler's answer on the channel it came
 *   on (delivery tags are channel-scoped; acking on another channel or twice
 *   kills the channel), once; when that channel is gone nothing is sent: the
 *   broker has already requeued the message and will deliver it again, with
 *   `redelivered` set. 'leave' sends nothing either: the message comes back
 *   when the channel closes.
 * - When the channel closes unexpectedly (channel error, connection loss,
 *   or the broker cancelling a consumer because its queue was deleted), the
 *   group drops its dead channel, waits with backoff, re-declares the
 *   transport's topology and consumes again. Prefetched but unsettled
 *   messages of the old channel are redelivered by the broker.
 * - A handler that throws or rejects has its message requeued (logged: in-flight.ts).
 * - Exclusive queues (ConsumeOptions.exclusive, transport/claim.ts): each
 *   attach first declares the queue's claim queue on this connection, then
 *   consumes it with exclusive=true; a 405 or 403 for it is a QueueTakenError.
 *   The claim stays with the connection until it closes (not on cancel), so
 *   a draining worker keeps its place; after a reconnect the group attaches
 *   again only once the claim is back (a standby may have taken over).
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { QueueTakenError, TransportError } from '../../errors';
import { claimQueue, claimQueueName, queueTaken } from '../claim';
import type { InFlight } from '../in-flight';
import type { InboundMessage, MessageHandler, Settlement } from '../transport';
import type { BrokerConnection } from './connection';
import type { CompiledOptions } from './options';
import { KeptGroup } from '../kept-group';
import { amqpCode, errorText, withTimeout } from '../timing';

/** One channel's lifetime: messages remember theirs, so a settle after it died is a no-op. */
interface Generation {
  readonly ch: Channel;
  open: boolean;
  readonly tags: string[];
}

export interface GroupDeps {
  conn: BrokerConnection;
  opts: CompiledOptions;
  /** Declare the transport's remembered topology again (after a loss, before consuming). */
  redeclare(model: ChannelModel): Promise<void>;
  /** The transport's deliveries in handlers: each answer is applied through it. */
  inFlight: InFlight;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export class ConsumerGroup extends KeptGroup<ChannelModel, Generation> {
  constructor(
    queues: readonly string[],
    private readonly prefetch: number,
    private readonly handler: MessageHandler,
    private readonly deps: GroupDeps,
    private readonly exclusive: readonly string[] = [],
  ) {
    super(queues, deps.conn, deps.opts, { queues });
  }

  protected redeclare(model: ChannelModel): Promise<void> {
    return this.deps.redeclare(model);
  }

  protected async attach(model: ChannelModel): Promise<void> {
    const t = this.deps.opts.operationTimeoutMs;
    const ch = await withTimeout(model.createChannel(), t, 'opening a consumer channel', (late) => {
      void late.close().catch(() => undefined);
    });
    const gen: Generation = { ch, open: true, tags: [] };
    ch.on('error', (err: Error) => this.deps.opts.log('warn', 'consumer channel closed by the broker', { queues: this.queues, error: err.message }));
    ch.on('close', () => {
      gen.open = false;
      if (this.gen === gen) {
        this.gen = undefined;
        this.kick();
      }
    });
    let claiming: string | undefined;
    try {
      // Per-consumer prefetch (global=false): each queue gets `prefetch` unsettled messages.
      await withTimeout(ch.prefetch(this.prefetch, false), t, 'setting prefetch');
      for (const queue of this.queues) {
        const exclusive = this.exclusive.includes(queue);
        claiming = exclusive ? queue : undefined;
        if (exclusive) {
          const claim = claimQueue(queue);
          await withTimeout(ch.assertQueue(claim.name, { durable: claim.durable, autoDelete: claim.autoDelete, exclusive: true }), t, `claiming queue "${queue}"`);
        }
        const ok = await withTimeout(
          ch.consume(queue, (m) => this.onDelivery(gen, queue, m), { noAck: false, exclusive }),
          t,
          `consuming queue "${queue}"`,
        );
        gen.tags.push(ok.consumerTag);
      }
    } catch (err) {
      gen.open = false;
      await withTimeout(ch.close(), t, 'closing a failed consumer channel').catch(() => undefined);
      const reason = errorText(err);
      const code = amqpCode(err);
      if (claiming !== undefined && (code === 405 || (code === 403 && /exclusive/i.test(reason)))) {
        throw queueTaken(claiming, code === 405 ? `its claim queue ${claimQueueName(claiming)} is held by another connection (405 RESOURCE_LOCKED)` : 'the broker refused an exclusive consume (403 ACCESS_REFUSED: in exclusive use)');
      }
      throw err instanceof TransportError || err instanceof QueueTakenError
        ? err
        : new TransportError(`cannot consume ${this.queues.map((q) => `"${q}"`).join(', ')}: ${reason}`, { queues: [...this.queues] });
    }
    if (!gen.open) throw new TransportError('consumer channel closed while consumers were being set up', { queues: [...this.queues] });
    this.gen = gen;
  }

  private onDelivery(gen: Generation, queue: string, m: ConsumeMessage | null): void {
    if (m === null) {
      // The broker cancelled this consumer (queue deleted, node lost). Start over on a
      // fresh channel: unsettled messages of this one come back redelivered.
      this.deps.opts.log('warn', 'consumer cancelled by the broker; re-declaring and resuming', { queue });
      if (this.gen === gen) void withTimeout(gen.ch.close(), this.deps.opts.operationTimeoutMs, 'closing a cancelled consumer channel').catch(() => undefined);
      return;
    }
    this.deps.inFlight.run(inbound(queue, m), this.handler, (how) => settle(gen, m, how));
  }

  /** basic.cancel every consumer; the channel stays open so in-flight messages can still be settled. */
  protected async stopDeliveries(gen: Generation): Promise<void> {
    for (const tag of gen.tags.splice(0)) {
      await withTimeout(gen.ch.cancel(tag), this.deps.opts.operationTimeoutMs, `cancelling consumer ${tag}`).catch((err: unknown) => {
        this.deps.opts.log('warn', 'basic.cancel failed', { tag, error: errorText(err) });
      });
    }
  }

  /** Close the channel: unsettled messages go back to their queues. */
  protected async endGeneration(gen: Generation): Promise<void> {
    await withTimeout(gen.ch.close(), this.deps.opts.operationTimeoutMs, 'closing a consumer channel').catch(() => undefined);
  }
}

function inbound(queue: string, m: ConsumeMessage): InboundMessage {
  const p = m.properties;
  return {
    body: m.content,
    contentType: str(p.contentType),
    contentEncoding: str(p.contentEncoding),
    exchange: m.fields.exchange,
    routingKey: m.fields.routingKey,
    queue,
    headers: p.headers ?? {},
    userId: str(p.userId),
    redelivered: m.fields.redelivered,
  };
}

/** Applied once per delivery (in-flight.ts); nothing is sent on a channel that is gone. */
function settle(gen: Generation, m: ConsumeMessage, how: Exclude<Settlement, 'leave'>): void {
  if (!gen.open) return;
  try {
    // 'requeue' is basic.nack, not basic.reject: on RabbitMQ 4.3 only reject counts toward a
    // quorum queue's delivery limit, and a requeue here means "not done", not "failed".
    if (how === 'ack') gen.ch.ack(m);
    else gen.ch.nack(m, false, true);
  } catch {
    // The channel closed between the check and the call: the broker redelivers the message.
  }
}
