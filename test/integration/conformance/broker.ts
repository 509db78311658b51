/**
 * The transports of the conformance suite: the factories that build each
 * one for the suite's own vhost (test/support/broker.ts makes it, so
 * `rabbitmqctl close_all_connections --vhost` touches nobody else).
 */
import { createAmqp091Transport, type TransportLog } from '../../../src/transport/amqp091';
import { createAmqp10Transport } from '../../../src/transport/amqp10';
import type { Transport } from '../../../src/transport/transport';

/** A transport as the suite drives it: the interface, plus how many connections it made. */
export type ConformantTransport = Transport & { readonly connectionGeneration: number };

/**
 * What a transport can promise on a given broker, so one suite states the
 * contract and the exceptions the broker forces (Watermill's `Features`).
 */
export interface Features {
  /** A mandatory publish nobody can receive resolves 'unroutable'. */
  unroutable: boolean;
  /** Inbound messages name the exchange they were published to. */
  inboundExchange: boolean;
}

export interface TransportFactory {
  readonly name: string;
  readonly features: Features;
  /** A transport for the vhost of `amqpUrl` (an amqp:// URL with the suite's vhost). */
  create(amqpUrl: string, log: TransportLog): ConformantTransport;
}

const fast = { operationTimeoutMs: 5000, confirmTimeoutMs: 5000, reconnectMinMs: 100, reconnectMaxMs: 1000 };

export const amqp091Factory: TransportFactory = {
  name: 'AMQP 0-9-1 (amqplib)',
  features: { unroutable: true, inboundExchange: true },
  create: (url, log) => createAmqp091Transport({ url, log, heartbeatS: 10, ...fast }),
};

/** AMQP 1.0 on RabbitMQ 3.x: v1 addresses, topology over 0-9-1 (derived from the amqp10:// URL). */
export const amqp10Factory: TransportFactory = {
  name: 'AMQP 1.0 (rhea, rabbitmq3 addresses)',
  // RabbitMQ 3.x's 1.0 plugin has no unroutable signal and does not say which exchange a message came through.
  features: { unroutable: false, inboundExchange: false },
  create: (url, log) => createAmqp10Transport({ url: url.replace(/^amqp:/, 'amqp10:'), log, heartbeatS: 10, addresses: 'rabbitmq3', ...fast }),
};
