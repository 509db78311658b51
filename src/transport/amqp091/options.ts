/**
 * Options of the AMQP 0-9-1 transport → one compiled, validated value with
 * defaults and units normalised once (milliseconds everywhere inside).
 */
import type { Options, SocketOptions } from 'amqplib';
import { z } from 'zod';
import { ConfigError } from '../../errors';
import { type BrokerUrl, hostLabel, parseBrokerUrl } from '../broker-url';
import { type CompiledCommon, commonTransportFields, compileCommon, parseTransportOptions } from '../common-options';
import { pemFields, tlsMaterial } from '../tls-files';

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

export interface CompiledOptions extends CompiledCommon {
  broker: BrokerUrl;
  /** In failover order. */
  hosts: HostTarget[];
  /** The whole URL with every password hidden, for logs and errors. */
  safeUrl: string;
  heartbeatS: number;
  socket: SocketOptions;
  maxPublishBytes: number;
}

export function compileOptions(input: Amqp091Options): CompiledOptions {
  const o = parseTransportOptions(Amqp091OptionsSchema, input, 'amqp transport');
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
  const common = compileCommon(o);
  const socket: SocketOptions = {
    timeout: o.connectTimeoutMs,
    noDelay: true,
    clientProperties: { connection_name: common.connectionName },
    ...pemFields(tls),
  };
  return {
    ...common,
    broker,
    hosts,
    safeUrl: broker.safe,
    heartbeatS,
    socket,
    maxPublishBytes: o.maxPublishBytes,
  };
}
