/**
 * Options of the AMQP 0-9-1 transport → one compiled, validated value with
 * defaults and units normalised once (milliseconds everywhere inside).
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { SocketOptions } from 'amqplib';
import { z } from 'zod';
import { ConfigError } from '../../errors';
import { commonTransportFields, type TransportLog } from '../common-options';

export type { LogLevel, TransportLog } from '../common-options';

export const Amqp091OptionsSchema = z.object({
  url: z.string().regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL'),
  /**
   * AMQP heartbeat (s). 60 like oslo's heartbeat_timeout_threshold: a dead
   * peer is noticed within about two intervals; 0 disables (a half-open TCP
   * connection then goes unnoticed until the kernel gives up). When unset, a
   * `heartbeat` query parameter of the URL is used, else 60.
   */
  heartbeatS: z.number().int().min(0).max(3600).optional(),
  ...commonTransportFields,
});
export type Amqp091Options = z.input<typeof Amqp091OptionsSchema>;

export interface CompiledOptions {
  /** The URL given to amqplib, with the heartbeat set. */
  url: string;
  /** The URL with its password hidden, for logs and errors. */
  safeUrl: string;
  heartbeatS: number;
  connectionName: string;
  socket: SocketOptions;
  log: TransportLog;
  operationTimeoutMs: number;
  confirmTimeoutMs: number;
  connectTimeoutMs: number;
  startTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxPublishBytes: number;
}

const silent: TransportLog = () => undefined;

export function compileOptions(input: Amqp091Options): CompiledOptions {
  const parsed = Amqp091OptionsSchema.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ConfigError(`amqp transport: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid options'}`);
  }
  const o = parsed.data;
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new ConfigError('amqp transport: url is not a valid URL');
  }
  if (o.tls && url.protocol !== 'amqps:') throw new ConfigError('amqp transport: tls options need an amqps:// url');
  const fromUrl = url.searchParams.get('heartbeat');
  const heartbeatS = o.heartbeatS ?? (fromUrl !== null && /^\d+$/.test(fromUrl) ? Number(fromUrl) : 60);
  url.searchParams.set('heartbeat', String(heartbeatS));
  const safe = new URL(url.toString());
  if (safe.password) safe.password = '***';
  const connectionName = o.connectionName ?? `${basename(process.argv[1] ?? 'hostwall')}:${process.pid}:${randomUUID()}`;
  const socket: SocketOptions = {
    timeout: o.connectTimeoutMs,
    noDelay: true,
    clientProperties: { connection_name: connectionName },
    ...(o.tls?.ca !== undefined ? { ca: o.tls.ca } : {}),
    ...(o.tls?.cert !== undefined ? { cert: o.tls.cert } : {}),
    ...(o.tls?.key !== undefined ? { key: o.tls.key } : {}),
  };
  return {
    url: url.toString(),
    safeUrl: safe.toString(),
    heartbeatS,
    connectionName,
    socket,
    log: o.log ?? silent,
    operationTimeoutMs: o.operationTimeoutMs,
    confirmTimeoutMs: o.confirmTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    startTimeoutMs: o.startTimeoutMs,
    reconnectMinMs: o.reconnectMinMs,
    reconnectMaxMs: Math.max(o.reconnectMaxMs, o.reconnectMinMs),
    maxPublishBytes: o.maxPublishBytes,
  };
}
