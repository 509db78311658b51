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
 *   tolerate duplicates (oslo dedupes by _unique_id).
 *
 * Backpressure: when amqplib's publish() returns false the message is buffered
 * (never resend it); later publishes wait for 'drain' first.
 */
import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { TransportError } from '../../errors';
import type { OutboundMessage, PublishResult } from '../transport';
import type { BrokerConnection } from './connection';
import type { CompiledOptions } from './options';
import { errorText, withTimeout } from './timing';

interface InFlight {
  readonly ch: ConfirmChannel;
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: Buffer;
  returned: boolean;
}

interface PublishChannel {
  ch: ConfirmChannel;
  open: boolean;
  /** Set while the socket buffer is full; resolves on 'drain' (or close). */
  drained: Promise<void> | undefined;
  /** Why the broker closed it, for the errors of the publishes it takes down. */
  closeReason: string | undefined;
}

/** The AMQP properties oslo.messaging (kombu) sets on every publish (SPEC §4). */
export function publishProperties(msg: OutboundMessage): Options.Publish {
  const json = /^application\/json\b/i.test(msg.contentType);
  return {
    contentType: msg.contentType,
    contentEncoding: msg.contentEncoding ?? (json ? 'utf-8' : undefined),
    deliveryMode: 2,
    priority: 0,
    headers: msg.headers ?? {},
    mandatory: msg.mandatory === true,
    ...(msg.expirationMs !== undefined ? { expiration: String(Math.max(0, Math.round(msg.expirationMs))) } : {}),
  };
}

export class ConfirmPublisher {
  private current: PublishChannel | undefined;
  private opening: Promise<PublishChannel> | undefined;
  /** Mandatory publishes awaiting their ack, in publish order, to match basic.return against. */
  private mandatory: InFlight[] = [];

  constructor(
    private readonly conn: BrokerConnection,
    private readonly opts: CompiledOptions,
  ) {}

  async publish(msg: OutboundMessage): Promise<PublishResult> {
    const deadline = Date.now() + this.opts.confirmTimeoutMs;
    const what = `publish to exchange "${msg.exchange}" with key "${msg.routingKey}"`;
    const pc = await this.channel(deadline);
    if (pc.drained) await withTimeout(pc.drained, deadline - Date.now(), `${what}: waiting for the socket buffer to drain`);
    return new Promise<PublishResult>((resolve, reject) => {
      const entry: InFlight = { ch: pc.ch, exchange: msg.exchange, routingKey: msg.routingKey, body: msg.body, returned: false };
      let finished = false;
      const finish = (): boolean => {
        if (finished) return false;
        finished = true;
        clearTimeout(timer);
        const i = this.mandatory.indexOf(entry);
        if (i >= 0) this.mandatory.splice(i, 1);
        return true;
      };
      const timer = setTimeout(() => {
        if (finish()) {
          reject(new TransportError(`${what}: no confirm within ${this.opts.confirmTimeoutMs} ms; outcome unknown`, {
            exchange: msg.exchange, routing_key: msg.routingKey, outcome: 'unknown',
          }));
        }
      }, Math.max(0, deadline - Date.now()));
      if (msg.mandatory) this.mandatory.push(entry);
      const onConfirm = (err: unknown): void => {
        if (!finish()) return;
        if (!err) resolve(entry.returned ? 'unroutable' : 'confirmed');
        else if (!pc.open || /closed/.test(errorText(err)))
          reject(new TransportError(`${what}: channel closed before the broker confirmed (${pc.closeReason ?? 'connection lost'}); outcome unknown`, {
            exchange: msg.exchange, routing_key: msg.routingKey, outcome: 'unknown',
          }));
        else reject(new TransportError(`${what}: the broker refused it (nack)`, { exchange: msg.exchange, routing_key: msg.routingKey, outcome: 'nacked' }));
      };
      try {
        const buffered = pc.ch.publish(msg.exchange, msg.routingKey, msg.body, publishProperties(msg), onConfirm);
        if (!buffered && !pc.drained) {
          this.opts.log('debug', 'publish buffer full: next publishes wait for drain', { exchange: msg.exchange });
          pc.drained = this.drainOf(pc);
        }
      } catch (err) {
        // Channel already closed (IllegalOperationError) or a headers table too large (RangeError): nothing was sent.
        if (finish()) reject(new TransportError(`${what}: ${errorText(err)}`, { exchange: msg.exchange, routing_key: msg.routingKey, outcome: 'not_sent' }));
      }
    });
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
    if (!this.opening) {
      this.opening = this.open(deadline).finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
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
    const entry = this.mandatory.find(
      (e) => e.ch === ch && !e.returned && e.exchange === m.fields.exchange && e.routingKey === m.fields.routingKey && e.body.equals(m.content),
    );
    if (entry) entry.returned = true;
    else this.opts.log('warn', 'basic.return for no known publish', { exchange: m.fields.exchange, routing_key: m.fields.routingKey });
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
