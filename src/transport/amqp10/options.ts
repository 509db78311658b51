/**
 * Options of the AMQP 1.0 transport → one compiled, validated value with
 * defaults and units normalised once (milliseconds everywhere inside), the
 * same shape as the 0-9-1 transport's so the two are configured alike.
 *
 * URL (../broker-url.ts): `amqp10://user:pass@host:5672/vhost` (TCP) or
 * `amqps10://…` (TLS), one host or several separated by commas, tried in
 * order. `rabbit://`, `amqp://` and `amqps://` are accepted too, for when
 * the protocol is chosen by a setting rather than by the scheme. The vhost
 * travels in the AMQP open frame's hostname as `vhost:<name>` (RabbitMQ's
 * convention).
 */
import type { ConnectionOptions } from 'rhea';
import { z } from 'zod';
import { ConfigError } from '../../errors';
import { amqp091UrlOf, hostLabel, parseBrokerUrl } from '../broker-url';
import { type CompiledCommon, commonTransportFields, compileCommon, parseTransportOptions } from '../common-options';
import { pemFields, tlsMaterial } from '../tls-files';
import type { FailoverStrategy } from '../failover';
import { type AddressBook, addressBook, type AddressFamily, AddressTemplatesSchema } from './addresses';

export const Amqp10OptionsSchema = z.object({
  url: z.string().min(1),
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
  adminUrl: z.union([z.string().min(1), z.literal(false)]).optional(),
  /**
   * Idle timeout (s) announced in the open frame: the broker must send a frame
   * at least this often (rhea then heartbeats at half the broker's value). A
   * silent peer is dropped after it; 0 disables (a half-open TCP connection
   * then goes unnoticed until the kernel gives up). When unset, the URL's
   * `idle_timeout` (oslo's amqp1 option), else 60 like oslo's rabbit threshold.
   */
  heartbeatS: z.number().int().min(0).max(3600).optional(),
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

/** One broker host of the URL, ready for rhea. */
export interface HostTarget {
  /** That host alone as a URL, password hidden: what logs name. */
  label: string;
  /** `host:port`. */
  address: string;
  /** rhea's connect options, reconnect off: our own loop reconnects (with jitter, re-declaring and re-attaching) and fails over. */
  connect: ConnectionOptions;
}

export interface CompiledOptions extends CompiledCommon {
  /** The whole URL with every password hidden, for logs and errors. */
  safeUrl: string;
  vhost: string;
  family: AddressFamily;
  book: AddressBook;
  /** In failover order. */
  hosts: HostTarget[];
  failover: FailoverStrategy;
  /** What the URL's query asked that hostwall ignores; logged once at start. */
  warnings: string[];
  /** TLS material, for the 0-9-1 admin connection too. */
  tls: Amqp10Options['tls'];
  /** 0-9-1 URL for declaring topology, or undefined when topology is not ours to declare. */
  adminUrl: string | undefined;
  maxSenderLinks: number;
  exclusiveQueueExpiresMs: number;
}

/** The same brokers over AMQP 0-9-1: amqp10 → amqp, amqps10 → amqps, every host kept (broker-url.ts). */
export const adminUrlOf = amqp091UrlOf;

export function compileOptions(input: Amqp10Options): CompiledOptions {
  const o = parseTransportOptions(Amqp10OptionsSchema, input, 'amqp10 transport');
  const broker = parseBrokerUrl(o.url);
  if (o.tls && !broker.tls) throw new ConfigError('amqp10 transport: tls options need a TLS url (amqps10://, amqps://, or ssl=true in the query)');
  const tls = tlsMaterial(broker, o.tls, 'amqp10 transport');
  const common = compileCommon(o);
  const { connectionName } = common;
  const heartbeatS = o.heartbeatS ?? broker.heartbeatS ?? 60;
  const hosts = broker.hosts.map((h): HostTarget => {
    const base = {
      host: h.hostname,
      port: h.port,
      hostname: `vhost:${broker.vhost}`,
      container_id: connectionName,
      properties: { product: 'hostwall', connection_name: connectionName },
      reconnect: false,
      ...(h.username !== undefined ? { username: h.username } : {}),
      ...(h.password !== undefined ? { password: h.password } : {}),
      ...(heartbeatS > 0 ? { idle_time_out: heartbeatS * 1000 } : {}),
    };
    const connect: ConnectionOptions = broker.tls
      ? {
          ...base,
          transport: 'tls',
          servername: h.hostname,
          ...pemFields(tls),
        }
      : { ...base, transport: 'tcp' };
    return { label: hostLabel(broker, h), address: h.address, connect };
  });
  const family: AddressFamily = o.addresses;
  let book: AddressBook;
  try {
    book = addressBook(family, o.templates);
  } catch (err) {
    throw new ConfigError(`amqp10 transport: ${err instanceof Error ? err.message : String(err)}`);
  }
  const adminUrl = o.adminUrl === false ? undefined : (o.adminUrl ?? (family === 'generic' ? undefined : adminUrlOf(o.url)));
  return {
    ...common,
    safeUrl: broker.safe,
    vhost: broker.vhost,
    family,
    book,
    hosts,
    failover: broker.failover,
    warnings: broker.warnings,
    tls,
    adminUrl,
    maxSenderLinks: o.maxSenderLinks,
    exclusiveQueueExpiresMs: o.exclusiveQueueExpiresMs,
  };
}
