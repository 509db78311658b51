/**
 * Publishing with publisher confirms on one ConfirmChannel per connection.
 *
 * Contract of publish():
 * - 'confirmed': the broker acked it (routed, or unroutable without mandatory);
 * - 'unroutable': mandatory and the broker returned it (basic.return arrives
 *   before the ack of the same message, so the return is matched first);
 * - rejects with TransportError on nack, on channel/connection loss before
 *   the ack, and when no ack came within confirmTimeoutMs. In the last two
 *   cases the message may still have been delivered: callers that retry must
 *   tolerate duplicates (oslo dedupes by _unique_id);
 * - rejects with TransportError outcome 'too_large', sending nothing, when
 *   the message could never fit (message-size.ts): the channel stays up.
 *
 * Backpressure: when amqplib's publish() returns false the message is buffered
 * (never resend it); later publishes wait for 'drain' first.
 */
import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { TransportError } from '../../errors';
import type { OutboundMessage, PublishResult } from '../transport';
import type { BrokerConnection } from './connection';
import { frameMaxOf, sizeProblem } from './message-size';
import type { CompiledOptions } from './options';
import { errorText, withTimeout } from '../timing';
import { SingleFlight } from '../single-flight';

interface InFlight {
  readonly ch: ConfirmChannel;
  readonly msg: OutboundMessage;
  readonly deadline: number;
  returned: boolean;
  done: boolean;
  resolve(r: PublishResult): void;
  reject(e: TransportError): void;
}

interface PublishChannel {
  ch: ConfirmChannel;
  open: boolean;
  /** Set while the socket buffer is full; resolves on 'drain' (or close). */
  drained: Promise<void> | undefined;
  /** Why the broker closed it, for the errors of the publishes it takes down. */
  closeReason: string | undefined;
}

const JSON_TYPE = /^application\/json\b/i;

/** The AMQP properties oslo.messaging (kombu) sets on every publish (docs/oslo-wire.md#message-properties). */
export function publishProperties(msg: OutboundMessage): Options.Publish {
  const props: Options.Publish = {
    contentType: msg.contentType,
    contentEncoding: msg.contentEncoding ?? (JSON_TYPE.test(msg.contentType) ? 'utf-8' : undefined),
    deliveryMode: 2,
    priority: 0,
    headers: msg.headers ?? {},
    mandatory: msg.mandatory === true,
  };
  if (msg.expirationMs !== undefined) props.expiration = String(Math.max(0, Math.round(msg.expirationMs)));
  return props;
}

const what = (msg: OutboundMessage): string => `publish to exchange "${msg.exchange}" with key "${msg.routingKey}"`;
const where = (msg: OutboundMessage) => ({ exchange: msg.exchange, routing_key: msg.routingKey });

export class ConfirmPublisher {
  private current: PublishChannel | undefined;
  private readonly opening = new SingleFlight<PublishChannel>();
  /**
   * Publishes awaiting their confirm, in publish order (basic.return is matched
   * against the earliest mandatory one), from `head` on; settled ones are
   * dropped from the front as the confirms come in order.
   */
  private inflight: InFlight[] = [];
  private head = 0;
  /**
   * One timer for every confirm deadline rather than one per publish: arming
   * and clearing a timer per message cost more than the rest of publish().
   * Armed for the earliest deadline while anything is in flight.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly conn: BrokerConnection,
    private readonly opts: CompiledOptions,
  ) {}

  publish(msg: OutboundMessage): Promise<PublishResult> {
    const deadline = Date.now() + this.opts.confirmTimeoutMs;
    const pc = this.current;
    // The usual case goes out in the caller's tick, without awaits: publishes of one tick share a socket write.
    if (pc?.open && !pc.drained) return this.send(pc, msg, deadline);
    return this.publishWhenReady(msg, deadline);
  }

  private async publishWhenReady(msg: OutboundMessage, deadline: number): Promise<PublishResult> {
    const pc = await this.channel(deadline);
    if (pc.drained) await withTimeout(pc.drained, deadline - Date.now(), `${what(msg)}: waiting for the socket buffer to drain`);
    return this.send(pc, msg, deadline);
  }

  private send(pc: PublishChannel, msg: OutboundMessage, deadline: number): Promise<PublishResult> {
    // A message that can never fit fails alone, before it is sent (message-size.ts): sent, it would take the channel down.
    const problem = sizeProblem(msg, { maxPublishBytes: this.opts.maxPublishBytes, frameMax: frameMaxOf(pc.ch.connection) });
    if (problem) return Promise.reject(new TransportError(`${what(msg)}: ${problem}`, { ...where(msg), outcome: 'too_large' }));
    return new Promise<PublishResult>((resolve, reject) => {
      const entry: InFlight = { ch: pc.ch, msg, deadline, returned: false, done: false, resolve, reject };
      this.track(entry);
      try {
        const buffered = pc.ch.publish(msg.exchange, msg.routingKey, msg.body, publishProperties(msg), (err: unknown) => this.onConfirm(pc, entry, err));
        if (!buffered && !pc.drained) {
          this.opts.log('debug', 'publish buffer full: next publishes wait for drain', { exchange: msg.exchange });
          pc.drained = this.drainOf(pc);
        }
      } catch (err) {
        // Channel already closed (IllegalOperationError) or a headers table too large (RangeError): nothing was sent.
        this.fail(entry, `${what(msg)}: ${errorText(err)}`, 'not_sent');
      }
    });
  }

  private onConfirm(pc: PublishChannel, entry: InFlight, err: unknown): void {
    if (entry.done) return;
    if (!err) {
      this.settle(entry);
      entry.resolve(entry.returned ? 'unroutable' : 'confirmed');
    } else if (!pc.open || /closed/.test(errorText(err))) {
      this.fail(entry, `${what(entry.msg)}: channel closed before the broker confirmed (${pc.closeReason ?? 'connection lost'}); outcome unknown`, 'unknown');
    } else {
      this.fail(entry, `${what(entry.msg)}: the broker refused it (nack)`, 'nacked');
    }
  }

  private fail(entry: InFlight, message: string, outcome: 'unknown' | 'nacked' | 'not_sent'): void {
    if (entry.done) return;
    this.settle(entry);
    entry.reject(new TransportError(message, { ...where(entry.msg), outcome }));
  }

  private track(entry: InFlight): void {
    this.inflight.push(entry);
    if (entry.deadline < this.sweepAt) this.armSweep(entry.deadline);
  }

  private settle(entry: InFlight): void {
    entry.done = true;
    const q = this.inflight;
    while (this.head < q.length && q[this.head]?.done) this.head++;
    if (this.head === q.length) {
      this.inflight = [];
      this.head = 0;
      // Nothing left to time out: no timer may keep the process up for confirmTimeoutMs.
      this.armSweep(Number.POSITIVE_INFINITY);
    } else if (this.head >= 1024 && this.head * 2 >= q.length) {
      this.inflight = q.slice(this.head);
      this.head = 0;
    }
  }

  private armSweep(at: number): void {
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAt = at;
    if (at !== Number.POSITIVE_INFINITY) this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
  }

  /** Fail every publish past its deadline; the rest keep the timer armed for the earliest of theirs. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    // A copy: failing one settles it, which may replace this.inflight.
    for (const e of this.inflight.slice(this.head)) {
      if (e.done) continue;
      if (e.deadline <= now) this.fail(e, `${what(e.msg)}: no confirm within ${this.opts.confirmTimeoutMs} ms; outcome unknown`, 'unknown');
      else if (e.deadline < next) next = e.deadline;
    }
    if (next < this.sweepAt) this.armSweep(next);
  }

  private drainOf(pc: PublishChannel): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        pc.ch.off('drain', done);
        pc.ch.off('close', done);
        pc.drained = undefined;
        resolve();
      };
      pc.ch.on('drain', done);
      pc.ch.on('close', done);
    });
  }

  /** The open confirm channel, opening one (after waiting for the connection) if needed. */
  private async channel(deadline: number): Promise<PublishChannel> {
    if (this.current?.open) return this.current;
    return this.opening.run(() => this.open(deadline));
  }

  private async open(deadline: number): Promise<PublishChannel> {
    const model: ChannelModel = await this.conn.whenUp(deadline - Date.now());
    // amqplib rejects with its own "Channel ended" when the connection drops meanwhile: make it ours.
    const opening = model.createConfirmChannel().catch((err: unknown) => {
      throw new TransportError(`opening the publish channel: ${err instanceof Error ? err.message : String(err)}`, { outcome: 'not_sent' });
    });
    const ch = await withTimeout(opening, this.opts.operationTimeoutMs, 'opening the publish channel', (late) => {
      void late.close().catch(() => undefined);
    });
    const pc: PublishChannel = { ch, open: true, drained: undefined, closeReason: undefined };
    // A server-side close (e.g. 404 publishing to a missing exchange) arrives as 'error' then 'close';
    // amqplib then fails every unconfirmed publish of this channel with "channel closed".
    ch.on('error', (err: Error) => {
      pc.closeReason = err.message;
      this.opts.log('warn', 'publish channel closed by the broker', { error: err.message });
    });
    ch.on('close', () => {
      pc.open = false;
      if (this.current === pc) this.current = undefined;
    });
    ch.on('return', (m: Message) => this.onReturn(ch, m));
    this.current = pc;
    return pc;
  }

  /**
   * Match a basic.return to the earliest in-flight mandatory publish of that
   * channel with the same exchange, key and body (oslo bodies carry a unique
   * id, so equal bodies are the same message).
   */
  private onReturn(ch: ConfirmChannel, m: Message): void {
    for (let i = this.head; i < this.inflight.length; i++) {
      const e = this.inflight[i];
      if (
        e && !e.done && e.ch === ch && e.msg.mandatory === true && !e.returned &&
        e.msg.exchange === m.fields.exchange && e.msg.routingKey === m.fields.routingKey && e.msg.body.equals(m.content)
      ) {
        e.returned = true;
        return;
      }
    }
    this.opts.log('warn', 'basic.return for no known publish', { exchange: m.fields.exchange, routing_key: m.fields.routingKey });
  }

  /** The connection was replaced: the old channel is dead (its publishes already failed). */
  reset(): void {
    this.current = undefined;
  }

  /** Wait (bounded) for outstanding confirms, then close the channel. */
  async close(): Promise<void> {
    const pc = this.current;
    this.current = undefined;
    if (!pc?.open) return;
    await withTimeout(pc.ch.waitForConfirms(), this.opts.operationTimeoutMs, 'waiting for outstanding confirms').catch(() => undefined);
    await withTimeout(pc.ch.close(), this.opts.operationTimeoutMs, 'closing the publish channel').catch(() => undefined);
  }
}
