/**
 * An oslo message ready for the transport, with the AMQP properties every
 * oslo publish carries (docs/oslo-wire.md#message-properties): content_type application/json,
 * content_encoding utf-8, an empty headers table (the transport adds
 * delivery_mode 2 and priority 0), and an expiration only for calls.
 */
import type { OutboundMessage } from '../transport/transport';
import { encodeOsloBody, OSLO_CONTENT_ENCODING, OSLO_CONTENT_TYPE, type OsloMessage } from './envelope';

export interface OsloOutbound {
  exchange: string;
  routingKey: string;
  message: OsloMessage;
  /** Calls: the caller's timeout, so an unconsumed request dies with it. */
  expirationMs?: number;
  /** Replies are mandatory so a vanished reply queue is noticed. */
  mandatory?: boolean;
  /** `v1` only for the legacy `messaging` notifier (no envelope). */
  format?: 'v2' | 'v1';
}

export function osloOutbound(o: OsloOutbound): OutboundMessage {
  return {
    exchange: o.exchange,
    routingKey: o.routingKey,
    body: encodeOsloBody(o.message, o.format ?? 'v2'),
    contentType: OSLO_CONTENT_TYPE,
    contentEncoding: OSLO_CONTENT_ENCODING,
    headers: {},
    ...(o.expirationMs !== undefined ? { expirationMs: o.expirationMs } : {}),
    ...(o.mandatory !== undefined ? { mandatory: o.mandatory } : {}),
  };
}
