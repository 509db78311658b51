/**
 * Which transport runs: chosen by the URL scheme, or forced by a setting.
 *
 *   rabbit://, amqp://, amqps://  → AMQP 0-9-1 (amqplib)   unless protocol = 'amqp10'
 *   amqp10://, amqps10://         → AMQP 1.0 (rhea)        (protocol 'amqp091' is an error)
 *
 * (An oslo transport_url's amqp:// is AMQP 1.0: see fromOsloTransportUrl in broker-url.ts.)
 *
 * Nothing above this file knows which one it got: both implement Transport.
 */
import { ConfigError } from '../errors';
import { type Amqp091Options, createAmqp091Transport } from './amqp091';
import type { TransportLog } from './common-options';
import { type AddressFamily, type AddressTemplates, createAmqp10Transport } from './amqp10';
import { parseBrokerUrl } from './broker-url';
import type { Transport } from './transport';

export type TransportProtocol = 'amqp091' | 'amqp10';

export interface SelectOptions {
  /** 'auto' (default): from the URL scheme. */
  protocol?: TransportProtocol | 'auto';
  connectionName?: string;
  log?: TransportLog;
  /** TLS material (a TLS URL: amqps://, amqps10:// or ssl=true). */
  tls?: Amqp091Options['tls'];
  /** start() fails after one failed round over the hosts (CLI commands). */
  failFast?: boolean;
  /** One deadline for connecting, each broker operation and each confirm (a CLI command's --timeout); the transports' defaults when unset. */
  timeoutMs?: number;
  /** AMQP 1.0 only: the broker's address family (default 'rabbitmq3'). */
  amqp10Addresses?: AddressFamily;
  /** AMQP 1.0 generic family only: address templates. */
  amqp10Templates?: AddressTemplates;
  /** AMQP 1.0 only: 0-9-1 URL for declaring topology (default: derived from the URL for the RabbitMQ families). */
  amqp10AdminUrl?: string;
}

/** The protocol a URL (and an optional forced choice) selects; throws ConfigError on a contradiction. */
export function protocolOf(url: string, protocol: SelectOptions['protocol'] = 'auto'): TransportProtocol {
  const { protocol: byScheme, scheme } = parseBrokerUrl(url);
  if (protocol === 'auto' || protocol === byScheme) return byScheme;
  if (protocol === 'amqp10') return 'amqp10'; // AMQP 1.0 over a 0-9-1 URL: same port, other protocol header
  throw new ConfigError(`transport protocol amqp091 cannot use the AMQP 1.0 URL scheme ${scheme}://; use rabbit://, amqp:// or amqps://`);
}

export function createTransport(url: string, opts: SelectOptions = {}): Transport {
  const common = {
    url,
    ...(opts.connectionName !== undefined ? { connectionName: opts.connectionName } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    ...(opts.failFast !== undefined ? { failFast: opts.failFast } : {}),
    ...(opts.timeoutMs !== undefined ? { operationTimeoutMs: opts.timeoutMs, confirmTimeoutMs: opts.timeoutMs, connectTimeoutMs: opts.timeoutMs, startTimeoutMs: opts.timeoutMs } : {}),
  };
  if (protocolOf(url, opts.protocol) === 'amqp091') return createAmqp091Transport(common);
  return createAmqp10Transport({
    ...common,
    ...(opts.amqp10Addresses !== undefined ? { addresses: opts.amqp10Addresses } : {}),
    ...(opts.amqp10Templates !== undefined ? { templates: opts.amqp10Templates } : {}),
    ...(opts.amqp10AdminUrl !== undefined ? { adminUrl: opts.amqp10AdminUrl } : {}),
  });
}

/**
 * The settings (src/config.ts) that choose and shape the transport. Structural,
 * so the compiled Config can be passed as it is; absent or "" means default.
 */
export interface TransportSettings {
  amqpUrl: string;
  /** HOSTWALL_TRANSPORT: auto | amqp091 | amqp10. */
  transport?: SelectOptions['protocol'];
  /** HOSTWALL_AMQP10_ADDRESSES: rabbitmq3 | rabbitmq4 | generic. */
  amqp10Addresses?: AddressFamily;
  /** HOSTWALL_AMQP10_TARGET_TEMPLATE, HOSTWALL_AMQP10_QUEUE_TARGET_TEMPLATE, HOSTWALL_AMQP10_SOURCE_TEMPLATE (generic family). */
  amqp10TargetTemplate?: string;
  amqp10QueueTargetTemplate?: string;
  amqp10SourceTemplate?: string;
  /** HOSTWALL_AMQP10_ADMIN_URL: 0-9-1 URL for topology; "" = derived from amqpUrl. */
  amqp10AdminUrl?: string;
}

/** createTransport from the settings, e.g. `createTransportFor(config, { connectionName, log })`. */
export function createTransportFor(settings: TransportSettings, opts: Pick<SelectOptions, 'connectionName' | 'log' | 'tls' | 'failFast' | 'timeoutMs'> = {}): Transport {
  const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const exchange = nonEmpty(settings.amqp10TargetTemplate);
  const queue = nonEmpty(settings.amqp10QueueTargetTemplate);
  const source = nonEmpty(settings.amqp10SourceTemplate);
  const adminUrl = nonEmpty(settings.amqp10AdminUrl);
  const templates: AddressTemplates = {
    ...(exchange !== undefined ? { exchange } : {}),
    ...(queue !== undefined ? { queue } : {}),
    ...(source !== undefined ? { source } : {}),
  };
  return createTransport(settings.amqpUrl, {
    ...opts,
    ...(settings.transport !== undefined ? { protocol: settings.transport } : {}),
    ...(settings.amqp10Addresses !== undefined ? { amqp10Addresses: settings.amqp10Addresses } : {}),
    ...(Object.keys(templates).length > 0 ? { amqp10Templates: templates } : {}),
    ...(adminUrl !== undefined ? { amqp10AdminUrl: adminUrl } : {}),
  });
}
