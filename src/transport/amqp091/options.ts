/**
 * Options of the AMQP 0-9-1 transport → one compiled, validated value with
 * defaults and units normalised once (milliseconds everywhere inside).
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { Options, SocketOptions } from 'amqplib';
import { z } from 'zod';
import { ConfigError } from '../../errors';
import { type BrokerUrl, hostLabel, parseBrokerUrl } from '../broker-url';
import { commonTransportFields, type TransportLog } from '../common-options';
import { tlsMaterial } from '../tls-files';

export type { LogLevel, TransportLog } from '../common-options';

export const Amqp091OptionsSchema = z.object({
  /** A broker URL (../broker-url.ts): rabbit://, amqp:// or amqps://, one host or several separated by commas. */
  url: z.string().min(1),
  /**
   * AMQP heartbeat (s). 60 like oslo's heartbeat_timeout_threshold: a dead
   * peer is noticed within about two intervals; 0 disables (a half-open TCP
   * connection then goes unnoticed until the kernel gives up). When unset, the
   * URL's `heartbeat_timeout_threshold` (oslo) or `heartbeat` (amqplib) is used, else 60.
   */
  heartbeatS: z.number().int().min(0).max(3600).optional(),
  ...commonTransportFields,
});
export type Amqp091Options = z.input<typeof Amqp091OptionsSchema>;

/** One broker host of the URL, ready for amqplib. */
export interface HostTarget {
  /** That host alone as a URL, password hidden: what logs name. */
  label: string;
  /** `host:port`. */
  address: string;
  /** amqplib's object form, so no credential or vhost is re-encoded into a URL string. */
  connect: Options.Connect;
}

export interface CompiledOptions {
  broker: BrokerUrl;
  /** In failover order. */
  hosts: HostTarget[];
  /** The whole URL with every password hidden, for logs and errors. */
  safeUrl: string;
  heartbeatS: number;
  connectionName: string;
  socket: SocketOptions;
  log: TransportLog;
  failFast: boolean;
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
  const broker = parseBrokerUrl(o.url);
  if (broker.protocol !== 'amqp091') throw new ConfigError(`amqp transport: ${broker.scheme}:// is AMQP 1.0; AMQP 0-9-1 needs rabbit://, amqp:// or amqps://`);
  if (o.tls && !broker.tls) throw new ConfigError('amqp transport: tls options need a TLS url (amqps://, or ssl=true in the query)');
  const tls = tlsMaterial(broker, o.tls, 'amqp transport');
  const heartbeatS = o.heartbeatS ?? broker.heartbeatS ?? 60;
  const hosts = broker.hosts.map((h): HostTarget => ({
    label: hostLabel(broker, h),
    address: h.address,
    connect: {
      protocol: broker.tls ? 'amqps' : 'amqp',
      hostname: h.hostname,
      port: h.port,
      ...(h.username !== undefined ? { username: h.username } : {}),
      ...(h.password !== undefined ? { password: h.password } : {}),
      // amqplib unescapes the vhost of the object form too: give it escaped.
      vhost: encodeURIComponent(broker.vhost),
      heartbeat: heartbeatS,
      ...broker.amqplib,
    },
  }));
  const connectionName = o.connectionName ?? `${basename(process.argv[1] ?? 'hostwall')}:${process.pid}:${randomUUID()}`;
  const socket: SocketOptions = {
    timeout: o.connectTimeoutMs,
    noDelay: true,
    clientProperties: { connection_name: connectionName },
    ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls?.key !== undefined ? { key: tls.key } : {}),
  };
  return {
    broker,
    hosts,
    safeUrl: broker.safe,
    heartbeatS,
    connectionName,
    socket,
    log: o.log ?? silent,
    failFast: o.failFast,
    operationTimeoutMs: o.operationTimeoutMs,
    confirmTimeoutMs: o.confirmTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    startTimeoutMs: o.startTimeoutMs,
    reconnectMinMs: o.reconnectMinMs,
    reconnectMaxMs: Math.max(o.reconnectMaxMs, o.reconnectMinMs),
    maxPublishBytes: o.maxPublishBytes,
  };
}
