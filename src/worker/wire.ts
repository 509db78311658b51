/**
 * The dispatcher's Wire over a Transport and oslo's codec: decoding requests,
 * answering calls (reply, heartbeat) and dead-lettering refused messages.
 */
import { checkSize, checkStructure, type MessageLimits } from '../limits/message-limits';
import type { Logger } from '../log';
import type { ErrorInfo } from '../dispatch/outcome';
import type { Wire, WireRequest } from '../dispatch/ports';
import type { RejectedError } from '../errors';
import { decodeOsloBody, type OsloMessage } from '../oslo/envelope';
import { serializeFailure } from '../oslo/failure';
import { encodeFinalReply, encodeHeartbeat, heartbeatIntervalMs, replyOutbound } from '../oslo/rpc-reply';
import { parseRpcRequest } from '../oslo/rpc-request';
import type { InboundMessage, Transport } from '../transport/transport';

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
} as const;

const firstError = (h: Readonly<Record<string, unknown>>): string | undefined => {
  const v = h[DEAD_LETTER_HEADERS.firstError];
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
};

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
    return parseRpcRequest(inner);
  }

  async reply(call: NonNullable<WireRequest['call']>, body: { result: unknown } | { error: ErrorInfo }): Promise<void> {
    const inner = 'result' in body ? encodeFinalReply(call.msgId, { result: body.result }) : encodeFinalReply(call.msgId, { failure: serializeFailure(body.error) });
    await this.sendReply(call, inner);
  }

  async heartbeat(call: NonNullable<WireRequest['call']>): Promise<void> {
    await this.sendReply(call, encodeHeartbeat(call.msgId));
  }

  heartbeatEveryMs(call: NonNullable<WireRequest['call']>): number | undefined {
    return heartbeatIntervalMs(call.timeoutS);
  }

  async deadLetter(msg: InboundMessage, err: RejectedError): Promise<void> {
    const r = await this.transport.publish({
      exchange: '',
      routingKey: deadLetterQueueName(this.host),
      body: msg.body,
      contentType: msg.contentType ?? 'application/octet-stream',
      ...(msg.contentEncoding ? { contentEncoding: msg.contentEncoding } : {}),
      headers: {
        ...msg.headers,
        [DEAD_LETTER_HEADERS.reason]: err.code,
        [DEAD_LETTER_HEADERS.error]: err.message.slice(0, 4000),
        [DEAD_LETTER_HEADERS.exchange]: msg.exchange,
        [DEAD_LETTER_HEADERS.routingKey]: msg.routingKey,
        [DEAD_LETTER_HEADERS.queue]: msg.queue,
        [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
        [DEAD_LETTER_HEADERS.firstError]: firstError(msg.headers) ?? `${err.code}: ${err.message.slice(0, 4000)}`,
      },
      mandatory: true,
    });
    // The queue is declared at start; unroutable means someone deleted it. Fail, so the message is not lost.
    if (r === 'unroutable') throw new Error(`dead-letter queue ${deadLetterQueueName(this.host)} is missing`);
  }

  private async sendReply(call: NonNullable<WireRequest['call']>, inner: OsloMessage): Promise<void> {
    const r = await this.transport.publish(replyOutbound(call.replyQueue, inner));
    // The caller's reply queue is gone (it timed out or exited): nobody is left to answer.
    if (r === 'unroutable') this.log.warn('reply not delivered: the caller\'s reply queue is gone', { reply_q: call.replyQueue, msg_id: call.msgId });
  }
}
