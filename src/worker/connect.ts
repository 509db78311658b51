/**
 * The transport a worker or a CLI command uses, from the settings: the URL
 * scheme (or `transport`) picks AMQP 0-9-1 or 1.0; TLS files apply to both.
 */
import type { Config } from '../config';
import type { Logger } from '../log';
import { createAmqp091Transport } from '../transport/amqp091';
import { createTransportFor, protocolOf } from '../transport/select';
import type { Transport } from '../transport/transport';
import { transportTls } from './tls';

export function openTransport(config: Config, opts: { connectionName: string; log?: Logger | undefined }): Transport {
  const log = opts.log;
  const relay = log ? { log: (level: 'debug' | 'info' | 'warn' | 'error', message: string, meta?: Record<string, unknown>) => log.log(level, message, meta ?? {}) } : {};
  if (protocolOf(config.amqpUrl, config.transport) === 'amqp10') return createTransportFor(config, { connectionName: opts.connectionName, ...relay });
  return createAmqp091Transport({ url: config.amqpUrl, connectionName: opts.connectionName, maxPublishBytes: config.maxPublishBytes, ...transportTls(config), ...relay });
}

/** A 0-9-1 URL to the same broker, for tools that speak 0-9-1 only (the stream and dead-letter readers). */
export function amqp091UrlOf(config: Pick<Config, 'amqpUrl' | 'amqp10AdminUrl'>): string {
  if (config.amqp10AdminUrl !== '') return config.amqp10AdminUrl;
  return config.amqpUrl.replace(/^amqp(s?)10:\/\//, 'amqp$1://');
}
