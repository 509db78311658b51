/**
 * The transport a worker or a CLI command uses, from the settings: the URL
 * scheme (or `transport`) picks AMQP 0-9-1 or 1.0; TLS files apply to both.
 */
import type { Config } from '../config';
import type { Logger } from '../log';
import { createAmqp091Transport } from '../transport/amqp091';
import { amqp091UrlOf as brokerAmqp091UrlOf } from '../transport/broker-url';
import { createTransportFor, protocolOf } from '../transport/select';
import type { Transport } from '../transport/transport';
import { transportTls } from './tls';

/**
 * `failFast` (CLI commands): start() fails as soon as every host of the URL
 * refused or did not answer once, naming each one's reason; a worker keeps
 * trying for startTimeoutMs, and for ever once it has been connected.
 */
export function openTransport(config: Config, opts: { connectionName: string; log?: Logger | undefined; failFast?: boolean; timeoutMs?: number | undefined }): Transport {
  const log = opts.log;
  const relay = log ? { log: (level: 'debug' | 'info' | 'warn' | 'error', message: string, meta?: Record<string, unknown>) => log.log(level, message, meta ?? {}) } : {};
  const common = { connectionName: opts.connectionName, ...transportTls(config), ...relay, ...(opts.failFast ? { failFast: true } : {}) };
  const t = opts.timeoutMs;
  if (protocolOf(config.amqpUrl, config.transport) === 'amqp10') return createTransportFor(config, { ...common, ...(t !== undefined ? { timeoutMs: t } : {}) });
  const deadlines = t !== undefined ? { operationTimeoutMs: t, confirmTimeoutMs: t, connectTimeoutMs: t, startTimeoutMs: t } : {};
  return createAmqp091Transport({ url: config.amqpUrl, maxPublishBytes: config.maxPublishBytes, ...common, ...deadlines });
}

/** A 0-9-1 URL to the same brokers (every host), for tools that speak 0-9-1 only (the stream and dead-letter readers). */
export function amqp091UrlOf(config: Pick<Config, 'amqpUrl' | 'amqp10AdminUrl'>): string {
  if (config.amqp10AdminUrl !== '') return config.amqp10AdminUrl;
  return brokerAmqp091UrlOf(config.amqpUrl);
}
