/**
 * Options of the AMQP 1.0 transport → one compiled, validated value with
 * defaults and units normalised once (milliseconds everywhere inside), the
 * same shape as the 0-9-1 transport's so the two are configured alike.
 *
 * URL: `amqp10://user:pass@host:5672/vhost` (TCP) or `amqps10://…` (TLS).
 * Plain `amqp://` / `amqps://` are accepted too, for when the protocol is
 * chosen by a setting rather than by the scheme. The vhost travels in the
 * AMQP open frame's hostname as `vhost:<name>` (RabbitMQ's convention).
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { ConnectionOptions } from 'rhea';
import { z } from 'zod';
import { ConfigError } from '../../errors';
import { commonTransportFields, type TransportLog } from '../common-options';
import { type AddressBook, addressBook, type AddressFamily, AddressTemplatesSchema } from './addresses';

export const AMQP10_URL = /^amqps?(10)?:\/\//;

export const Amqp10OptionsSchema = z.object({
  url: z.string().regex(AMQP10_URL, 'must be an amqp10://, amqps10://, amqp:// or amqps:// URL'),
  /**
   * Which address strings the broker understands: `rabbitmq3` (3.x plugin,
   * "v1" addresses), `rabbitmq4` (native 1.0, "v2" addresses), `generic`
   * (Artemis, Qpid routers…: the operator names addresses with `templates`).
   */
  addresses: z.enum(['rabbitmq3', 'rabbitmq4', 'generic']).default('rabbitmq3'),
  /** Address templates of the generic family (ignored by the RabbitMQ families). */
  templates: AddressTemplatesSchema.optional(),
  /**
   * AMQP 0-9-1 URL used only to declare topology (exchanges, queues, bindings):
   * RabbitMQ cannot create named queues with arguments or bindings over 1.0
   * (3.x) or only through its HTTP-over-AMQP management API (4.x). Default for
   * the RabbitMQ families: this URL with scheme amqp(s)://; default for generic:
   * none (topology is the operator's). `false` disables declaring.
   */
  adminUrl: z.union([z.string().regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL'), z.literal(false)]).optional(),
  /**
   * Idle timeout (s) announced in the open frame: the broker must send a frame
   * at least this often (rhea then heartbeats at half the broker's value). A
   * silent peer is dropped after it; 0 disables (a half-open TCP connection
   * then goes unnoticed until the kernel gives up). 60 like oslo's threshold.
   */
  heartbeatS: z.number().int().min(0).max(3600).default(60),
  ...commonTransportFields,
  /** Sender links kept open at once (one per target address); the least recently used idle one is detached beyond it. */
  maxSenderLinks: z.number().int().min(1).max(10_000).default(64),
  /**
   * An exclusive queue would belong to the 0-9-1 admin connection that declared
   * it, and the 1.0 connection could not consume it (405 RESOURCE_LOCKED). Such
   * queues are declared non-exclusive, auto-delete, with this x-expires (ms)
   * instead, so a queue nobody ever consumed still goes away.
   */
  exclusiveQueueExpiresMs: z.number().int().positive().default(300_000),
});
export type Amqp10Options = z.input<typeof Amqp10OptionsSchema>;

export interface CompiledOptions {
  /** The URL with its password hidden, for logs and errors. */
  safeUrl: string;
  vhost: string;
  family: AddressFamily;
  book: AddressBook;
  /** rhea's connect options, reconnect off: our own loop reconnects (with jitter, re-declaring and re-attaching). */
  connect: ConnectionOptions;
  /** 0-9-1 URL for declaring topology, or undefined when topology is not ours to declare. */
  adminUrl: string | undefined;
  connectionName: string;
  log: TransportLog;
  operationTimeoutMs: number;
  confirmTimeoutMs: number;
  connectTimeoutMs: number;
  startTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxSenderLinks: number;
  exclusiveQueueExpiresMs: number;
}

const silent: TransportLog = () => undefined;

function parseOrThrow(input: Amqp10Options): z.output<typeof Amqp10OptionsSchema> {
  const parsed = Amqp10OptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw new ConfigError(`amqp10 transport: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid options'}`);
}

/** The same broker over AMQP 0-9-1: scheme amqp10 → amqp, amqps10 → amqps; everything else kept. */
export function adminUrlOf(url: string): string {
  return url.replace(/^amqp(s?)(10)?:\/\//, 'amqp$1://');
}

export function compileOptions(input: Amqp10Options): CompiledOptions {
  const o = parseOrThrow(input);
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new ConfigError('amqp10 transport: url is not a valid URL');
  }
  const tls = url.protocol === 'amqps:' || url.protocol === 'amqps10:';
  if (o.tls && !tls) throw new ConfigError('amqp10 transport: tls options need an amqps10:// (or amqps://) url');
  // Like amqplib: no path (or "/") is the default vhost "/", otherwise the decoded path.
  const path = url.pathname.replace(/^\//, '');
  const vhost = path === '' ? '/' : decodeURIComponent(path);
  const safe = new URL(url.toString());
  if (safe.password) safe.password = '***';
  const connectionName = o.connectionName ?? `${basename(process.argv[1] ?? 'hostwall')}:${process.pid}:${randomUUID()}`;
  const base = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : tls ? 5671 : 5672,
    hostname: `vhost:${vhost}`,
    container_id: connectionName,
    properties: { product: 'hostwall', connection_name: connectionName },
    reconnect: false,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(o.heartbeatS > 0 ? { idle_time_out: o.heartbeatS * 1000 } : {}),
  };
  const connect: ConnectionOptions = tls
    ? {
        ...base,
        transport: 'tls',
        servername: url.hostname,
        ...(o.tls?.ca !== undefined ? { ca: o.tls.ca } : {}),
        ...(o.tls?.cert !== undefined ? { cert: o.tls.cert } : {}),
        ...(o.tls?.key !== undefined ? { key: o.tls.key } : {}),
      }
    : { ...base, transport: 'tcp' };
  const family: AddressFamily = o.addresses;
  let book: AddressBook;
  try {
    book = addressBook(family, o.templates);
  } catch (err) {
    throw new ConfigError(`amqp10 transport: ${err instanceof Error ? err.message : String(err)}`);
  }
  const adminUrl = o.adminUrl === false ? undefined : (o.adminUrl ?? (family === 'generic' ? undefined : adminUrlOf(o.url)));
  return {
    safeUrl: safe.toString(),
    vhost,
    family,
    book,
    connect,
    adminUrl,
    connectionName,
    log: o.log ?? silent,
    operationTimeoutMs: o.operationTimeoutMs,
    confirmTimeoutMs: o.confirmTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    startTimeoutMs: o.startTimeoutMs,
    reconnectMinMs: o.reconnectMinMs,
    reconnectMaxMs: Math.max(o.reconnectMaxMs, o.reconnectMinMs),
    maxSenderLinks: o.maxSenderLinks,
    exclusiveQueueExpiresMs: o.exclusiveQueueExpiresMs,
  };
}
