/**
 * The dispatcher's Wire over a Transport and oslo's codec: decoding requests,
 * answering calls (reply, heartbeat) and dead-lettering refused messages.
 *
 * What a hostile message can make the worker send is bounded here: its
 * identifiers are checked before anything echoes them (limits/identifiers.ts),
 * a dead letter copies a bounded part of its headers (limits/copied-headers.ts),
 * and a reply too large for the broker is answered with an error instead.
 */
import { copyHeaders } from '../../limits/copied-headers';
import { checkIdentifiers } from '../../limits/identifiers';
import { checkSize, checkStructure, type MessageLimits } from '../../limits/message-limits';
import type { Logger } from '../../log';
import { type ErrorInfo, errorInfo } from '../../dispatch/outcome';
import type { DeadLetterOptions, Wire, WireRequest } from '../../dispatch/ports';
import { type RejectedError, TransportError } from '../../errors';
import { decodeOsloBody, type OsloMessage } from '../envelope';
import { serializeFailure } from '../failure';
import { encodeFinalReply, encodeHeartbeat, heartbeatIntervalMs, replyOutbound } from '../rpc-reply';
import { parseRpcRequest } from '../rpc-request';
import type { InboundMessage, Transport } from '../../transport/transport';

/** Headers a dead letter carries (also what `hostwall replay --dead-letters` reads). */
export const DEAD_LETTER_HEADERS = {
  reason: 'x-hostwall-reason',
  error: 'x-hostwall-error',
  exchange: 'x-hostwall-original-exchange',
  routingKey: 'x-hostwall-original-routing-key',
  queue: 'x-hostwall-original-queue',
  at: 'x-hostwall-rejected-at',
  /** The error of the first rejection, kept when a replayed dead letter is refused again. */
  firstError: 'x-hostwall-first-error',
  /** Set when the copy of the original's headers is not whole: what was left out or cut. */
  truncated: 'x-hostwall-headers-truncated',
  /** Deliveries counted before it could be dead-lettered (set when more than one). */
  deliveries: 'x-hostwall-deliveries',
} as const;

/** Error texts in headers: a dead letter's error, and the first error a replayed one keeps. */
const MAX_ERROR_CHARS = 4000;

const firstError = (h: Readonly<Record<string, unknown>>): string | undefined => {
  const v = h[DEAD_LETTER_HEADERS.firstError];
  const text = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
  return text?.slice(0, MAX_ERROR_CHARS + 100);
};

/** A publish the transport refused to send because it can never fit (publisher.ts). */
const tooLarge = (err: unknown): boolean => err instanceof TransportError && err.details.outcome === 'too_large';
/** A publish that was not sent because of what it is (headers amqplib cannot encode, or too large): nothing was sent. */
const refusedAsIs = (err: unknown): boolean => err instanceof TransportError && (err.details.outcome === 'not_sent' || err.details.outcome === 'too_large');

export function deadLetterQueueName(host: string): string {
  return `hostwall.dead.${host}`;
}

export class OsloWire implements Wire {
  constructor(
    private readonly transport: Transport,
    private readonly host: string,
    private readonly log: Logger,
    private readonly limits: MessageLimits,
  ) {}

  /** Size before parsing, structure (depth, arrays, forbidden keys) before anything reads the fields. */
  decode(msg: InboundMessage): WireRequest {
    checkSize(msg.body, this.limits);
    const inner = decodeOsloBody(msg.body, msg.contentType, msg.contentEncoding);
    checkStructure(inner, this.limits);
    const req = parseRpcRequest(inner);
    checkIdentifiers(req);
    return req;
  }

  /**
   * A reply the broker could never take (publisher.ts refuses it before
   * sending) is answered with that error instead, so the call ends and the
   * message is acked, rather than coming back to build the same reply again.
   */
  async reply(call: NonNullable<WireRequest['call']>, body: { result: unknown } | { error: ErrorInfo }): Promise<void> {
    const inner = 'result' in body ? encodeFinalReply(call.msgId, { result: body.result }) : encodeFinalReply(call.msgId, { failure: serializeFailure(body.error) });
    try {
      await this.sendReply(call, inner);
    } catch (err) {
      if (!tooLarge(err)) throw err;
      this.log.error('reply too large for the broker: the call is answered with the error instead', { msg_id: call.msgId, error: String(err) });
      const error = errorInfo(new TransportError(`the reply could not be sent: ${err instanceof Error ? err.message : String(err)}`, { outcome: 'too_large' }));
      await this.sendReply(call, encodeFinalReply(call.msgId, { failure: serializeFailure(error) }));
    }
  }

  async heartbeat(call: NonNullable<WireRequest['call']>): Promise<void> {
    await this.sendReply(call, encodeHeartbeat(call.msgId));
  }

  heartbeatEveryMs(call: NonNullable<WireRequest['call']>): number | undefined {
    return heartbeatIntervalMs(call.timeoutS);
  }

  /**
   * Publish the refused message, its body as it came, with a bounded copy of
   * its headers and the reason. If even that copy cannot be encoded, it goes
   * again without any of the original's headers: a refusal is dead-lettered
   * whatever its headers.
   */
  async deadLetter(msg: InboundMessage, err: RejectedError, o: DeadLetterOptions = {}): Promise<void> {
    const copy = copyHeaders(msg.headers);
    try {
      await this.publishDeadLetter(msg, err, copy.headers, copy.note, o);
    } catch (e) {
      if (!refusedAsIs(e)) throw e;
      this.log.warn('dead letter with the original\'s headers could not be sent: sending it without them', { error: String(e) });
      await this.publishDeadLetter(msg, err, {}, `all ${Object.keys(msg.headers).length} headers of the original left out: ${String(e).slice(0, 500)}`, o);
    }
  }

  private async publishDeadLetter(msg: InboundMessage, err: RejectedError, copied: Record<string, unknown>, note: string | undefined, o: DeadLetterOptions): Promise<void> {
    const error = err.message.slice(0, MAX_ERROR_CHARS);
    const first = firstError(msg.headers) ?? o.firstError?.slice(0, MAX_ERROR_CHARS) ?? `${err.code}: ${error}`;
    const r = await this.transport.publish({
      exchange: '',
      routingKey: deadLetterQueueName(this.host),
      body: msg.body,
      contentType: msg.contentType ?? 'application/octet-stream',
      ...(msg.contentEncoding ? { contentEncoding: msg.contentEncoding } : {}),
      headers: {
        ...copied,
        [DEAD_LETTER_HEADERS.reason]: err.code,
        [DEAD_LETTER_HEADERS.error]: error,
        [DEAD_LETTER_HEADERS.exchange]: msg.exchange,
        [DEAD_LETTER_HEADERS.routingKey]: msg.routingKey,
        [DEAD_LETTER_HEADERS.queue]: msg.queue,
        [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
        [DEAD_LETTER_HEADERS.firstError]: first,
        ...(note !== undefined ? { [DEAD_LETTER_HEADERS.truncated]: note } : {}),
        ...(o.deliveries !== undefined && o.deliveries > 1 ? { [DEAD_LETTER_HEADERS.deliveries]: o.deliveries } : {}),
      },
      mandatory: true,
    });
    // The queue is declared at start; unroutable means someone deleted it. Fail, so the message is not lost.
    if (r === 'unroutable') throw new TransportError(`dead-letter queue ${deadLetterQueueName(this.host)} is missing`, { outcome: 'unroutable' });
  }

  private async sendReply(call: NonNullable<WireRequest['call']>, inner: OsloMessage): Promise<void> {
    const r = await this.transport.publish(replyOutbound(call.replyQueue, inner));
    // The caller's reply queue is gone (it timed out or exited): nobody is left to answer.
    if (r === 'unroutable') this.log.warn('reply not delivered: the caller\'s reply queue is gone', { reply_q: call.replyQueue, msg_id: call.msgId });
  }
}
