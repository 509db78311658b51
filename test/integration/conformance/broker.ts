/**
 * The broker side of the conformance suite: a vhost of the suite's own (so
 * `rabbitmqctl close_all_connections --vhost` touches nobody else), and the
 * factories that build each transport for it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { createAmqp091Transport, type TransportLog } from '../../../src/transport/amqp091';
import { createAmqp10Transport } from '../../../src/transport/amqp10';
import type { Transport } from '../../../src/transport/transport';
import { AMQP_URL } from '../transport-fixtures.test';

const run = promisify(execFile);
export const CTL = ['/usr/sbin/rabbitmqctl', '/usr/lib/rabbitmq/bin/rabbitmqctl'].find((p) => existsSync(p));

export async function ctl(...args: string[]): Promise<void> {
  if (!CTL) throw new Error('rabbitmqctl not found');
  await run(CTL, ['-q', ...args]);
}

export function urlWithVhost(base: string, vhost: string): string {
  const u = new URL(base);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}

export async function addVhost(vhost: string): Promise<string> {
  await ctl('add_vhost', vhost);
  await ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  return urlWithVhost(AMQP_URL, vhost);
}

export async function deleteVhost(vhost: string): Promise<void> {
  await ctl('delete_vhost', vhost).catch(() => undefined);
}

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
