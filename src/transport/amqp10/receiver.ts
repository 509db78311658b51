/**
 * A consumer group: the queues of one consume() call, one receiving link per
 * queue, on a session of their own (on RabbitMQ 3.x a refused attach — a
 * missing queue — ends the whole session, so it must not take the publisher
 * or another group with it).
 *
 * Contracts, equal to the 0-9-1 transport's:
 * - Flow: manual link credit (rhea's credit_window 0) of `prefetch` per link,
 *   topped up by one when a delivery is SETTLED, not when it arrives (rhea's
 *   automatic window refills on arrival and would not bound unsettled work).
 *   autoaccept is off: nothing is accepted before the outcome is final.
 * - Settlement: 'ack' → accepted; 'requeue' → released (the broker requeues it
 *   and redelivers with first-acquirer false). Not `modified`: RabbitMQ 3.10
 *   ends the session on it ("Unrecognised state"), and on 4.x
 *   modified{delivery-failed} would count toward a quorum queue's delivery
 *   limit, which the 0-9-1 path (basic.nack) deliberately does not.
 * - A delivery is settled with its handler's answer, once; after the session
 *   died nothing is sent, since the broker has already requeued the message.
 *   'leave' settles nothing and gives no credit back: the message comes back
 *   when the session ends.
 * - cancel() takes the credit back (no new deliveries; the links stay attached
 *   so unsettled messages can still be settled); anything arriving after it
 *   is released at once, never handed to the handler.
 * - A link or session ended by the broker (queue deleted, node lost) or a
 *   lost connection: the group waits with backoff, re-declares the
 *   transport's topology and attaches again on a fresh session.
 * - A handler that throws or rejects has its message released (logged: in-flight.ts).
 * - Exclusive queues (ConsumeOptions.exclusive): RabbitMQ 3.x's plugin
 *   subscribes every 1.0 link with exclusive=false (rabbit_amqp1_0_outgoing_link,
 *   "TODO exclusive?"), so a link cannot lock its queue. With a 0-9-1 admin
 *   connection (the RabbitMQ families) each attach claims the queue
 *   (transport/claim.ts: the claim queue, declared on the admin connection),
 *   refuses if the queue already has a consumer, attaches with no credit,
 *   counts the consumers again and only then gives credit: two workers
 *   attaching at once both see two, both let go, and retry apart (backoff
 *   with jitter). Nothing is delivered before the count. Not covered: a
 *   0-9-1 consumer arriving after the count that does not itself ask for
 *   exclusivity (hostwall's own 0-9-1 workers do, and are refused), and the
 *   claim lapses if the admin connection alone drops (re-declared when it
 *   comes back). The generic family has no admin connection: exclusivity is
 *   not enforced there, and the group says so once.
 */
import type { EventContext, Receiver, Session } from 'rhea';
import { TransportError } from '../../errors';
import { queueTaken } from '../claim';
import { KeptGroup } from '../kept-group';
import { errorText } from '../timing';
import type { InFlight } from '../in-flight';
import type { InboundMessage, MessageHandler, Settlement } from '../transport';
import type { Amqp10Connection, Live } from './connection';
import { inboundFields } from './message-map';
import type { CompiledOptions } from './options';
import { amqpErrorText, awaitFirst, revokeCredit } from './rhea-util';

/** Link credit standing in for 0-9-1's "prefetch 0 = unlimited". */
const UNBOUNDED_CREDIT = 1000;
/**
 * rhea frees incoming delivery slots only in order: one long-unsettled delivery
 * keeps every later slot taken. A large buffer lets that many deliveries pass
 * an unsettled one before the session window closes (and stalls the group).
 */
const INCOMING_SLOTS = 65_536;

/** One session's lifetime: messages remember theirs, so a settle after it died is a no-op. */
interface Generation {
  readonly session: Session;
  readonly links: Receiver[];
  open: boolean;
  /** Resolves with the reason when the broker (or the network) ends this generation. */
  readonly failed: Promise<string>;
  fail(reason: string): void;
}

export interface GroupDeps {
  conn: Amqp10Connection;
  opts: CompiledOptions;
  /** Declare the transport's remembered topology again (after a loss, before attaching). */
  redeclare(): Promise<void>;
  /** Take the queue's claim (QueueTakenError when another connection holds it); absent without an admin connection. */
  claim?: ((queue: string) => Promise<void>) | undefined;
  /** The queue's consumers now; absent without an admin connection. */
  consumers?: ((queue: string) => Promise<number | undefined>) | undefined;
  /** The transport's deliveries in handlers: each answer is applied through it. */
  inFlight: InFlight;
}

export class ReceiverGroup extends KeptGroup<Live, Generation> {
  private readonly credit: number;

  constructor(
    queues: readonly string[],
    prefetch: number,
    private readonly handler: MessageHandler,
    private readonly deps: GroupDeps,
    private readonly exclusive: readonly string[] = [],
  ) {
    super(queues, deps.conn, deps.opts, { queues, protocol: 'amqp10' });
    this.credit = prefetch === 0 ? UNBOUNDED_CREDIT : prefetch;
    if (exclusive.length > 0 && (!deps.claim || !deps.consumers)) {
      deps.opts.log('warn', 'amqp10: exclusive consume cannot be enforced without a 0-9-1 admin connection (generic address family): a second consumer of these queues would share their messages', { queues: exclusive });
    }
  }

  /** The consumers on each exclusive queue, other than `ours`: none, or QueueTakenError. */
  private async aloneOn(ours: number): Promise<void> {
    const count = this.deps.consumers;
    if (!count) return;
    for (const queue of this.exclusive) {
      const n = await count(queue);
      if (n !== undefined && n > ours) throw queueTaken(queue, `${n - ours} other consumer(s) counted${ours > 0 ? ' after attaching (attached at the same time: both let go and retry)' : ''}`);
    }
  }

  protected redeclare(): Promise<void> {
    return this.deps.redeclare();
  }

  protected async attach(live: Live): Promise<void> {
    const { opts } = this.deps;
    for (const queue of this.exclusive) await this.deps.claim?.(queue);
    await this.aloneOn(0);
    const session = live.conn.create_session({ incoming: INCOMING_SLOTS });
    let fail: (reason: string) => void = () => undefined;
    const failed = new Promise<string>((resolve) => {
      fail = resolve;
    });
    const gen: Generation = {
      session,
      links: [],
      open: true,
      failed,
      fail: (reason) => {
        if (!gen.open) return;
        gen.open = false;
        fail(reason);
        if (this.gen === gen) {
          this.gen = undefined;
          opts.log('warn', 'consumer session ended', { queues: this.queues, error: reason });
          this.kick();
        }
      },
    };
    session.on('session_error', () => gen.fail(`session ended by the broker: ${amqpErrorText(session.error)}`));
    session.on('session_close', () => gen.fail('session ended by the broker'));
    void live.lost.then((reason) => gen.fail(`connection lost: ${reason}`));
    session.begin();
    for (const queue of this.queues) gen.links.push(this.openLink(gen, queue));
    try {
      const opened = Promise.all(
        gen.links.map((r, i) => awaitFirst(r, ['receiver_open', 'receiver_error', 'receiver_close'], opts.operationTimeoutMs, `attaching to queue "${this.queues[i]}"`)),
      );
      const outcome = await Promise.race([opened, failed]);
      if (typeof outcome === 'string') throw new TransportError(outcome);
      gen.links.forEach((r, i) => {
        // A refusal on 4.x is an attach with a null source followed by a detach with the error.
        if (!r.source?.address) throw new TransportError(`the broker refused a link to queue "${this.queues[i]}": ${amqpErrorText(r.error)}`);
      });
    } catch (err) {
      gen.open = false;
      await this.endSession(session);
      const reason = errorText(err);
      throw new TransportError(`cannot consume ${this.queues.map((q) => `"${q}"`).join(', ')} over AMQP 1.0: ${reason}`, { queues: [...this.queues] });
    }
    if (!gen.open) throw new TransportError('consumer session ended while consumers were being set up', { queues: [...this.queues] });
    try {
      // Attached with no credit: nothing has been delivered yet.
      await this.aloneOn(1);
    } catch (err) {
      gen.open = false;
      await this.endSession(session);
      throw err;
    }
    for (const r of gen.links) r.add_credit(this.credit);
    this.gen = gen;
  }

  private openLink(gen: Generation, queue: string): Receiver {
    const receiver = gen.session.open_receiver({
      source: { address: this.deps.opts.book.source(queue) },
      autoaccept: false,
      credit_window: 0,
    });
    receiver.on('message', (ctx: EventContext) => this.onMessage(gen, receiver, queue, ctx));
    const detached = (): void => gen.fail(`link to queue "${queue}" detached by the broker: ${amqpErrorText(receiver.error)}`);
    receiver.on('receiver_error', detached);
    receiver.on('receiver_close', detached);
    return receiver;
  }

  private onMessage(gen: Generation, receiver: Receiver, queue: string, ctx: EventContext): void {
    const { delivery, message } = ctx;
    if (!delivery || !message) return;
    if (this.state !== 'running' || !gen.open) {
      // Arrived while draining or closing: hand it straight back.
      try {
        delivery.release();
      } catch {
        // The session is already gone: the broker requeues it anyway.
      }
      return;
    }
    const msg: InboundMessage = { ...inboundFields(message), queue };
    this.deps.inFlight.run(msg, this.handler, (how: Exclude<Settlement, 'leave'>) => {
      if (!gen.open || !receiver.is_open()) return;
      try {
        if (how === 'ack') delivery.accept();
        else delivery.release();
      } catch {
        // The link closed between the check and the call: the broker redelivers the message.
        return;
      }
      // rhea coalesces the credit of one tick into a single flow frame.
      if (this.state === 'running' && gen.open) receiver.add_credit(1);
    });
  }

  /**
   * Stop new deliveries: take the links' credit back (a flow with credit 0; see
   * revokeCredit for why not drain). The links stay attached, so delivered
   * messages can still be settled; a message already in flight when the broker
   * saw the flow is released on arrival, never handed to the handler.
   */
  protected async stopDeliveries(gen: Generation): Promise<void> {
    for (const [i, r] of gen.links.entries()) {
      if (!revokeCredit(r)) {
        // Unknown rhea internals: detaching also stops deliveries (RabbitMQ 3.x still accepts settlements afterwards).
        this.deps.opts.log('warn', 'cannot lower link credit; detaching the link instead', { queue: this.queues[i] });
        r.close();
      }
    }
  }

  /** End the session: unsettled messages go back to their queues. */
  protected async endGeneration(gen: Generation): Promise<void> {
    gen.open = false;
    await this.endSession(gen.session);
  }

  private async endSession(session: Session): Promise<void> {
    const wasOpen = session.is_open();
    const done = wasOpen ? awaitFirst(session, ['session_close', 'session_error'], this.deps.opts.operationTimeoutMs, 'ending a consumer session') : undefined;
    try {
      session.close();
    } catch {
      // Already ended.
    }
    await done?.catch(() => undefined);
  }
}
