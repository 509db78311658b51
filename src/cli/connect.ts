/** The broker connection a short-lived CLI command uses. */
import type { Config } from '../config';
import { TransportError, UsageError } from '../errors';
import type { Transport } from '../transport/transport';
import { openTransport } from '../worker/connect';

/**
 * Fails at once (exit 1, one line) when no host of the URL lets it in: ACCESS_REFUSED, connection refused, host not found.
 * `timeoutMs` (a command's --timeout) bounds connecting and every broker operation.
 */
export async function connectCli(config: Config, what: string, timeoutMs?: number): Promise<Transport> {
  const t = openTransport(config, { connectionName: `hostwall-${what}:${process.pid}`, failFast: true, timeoutMs });
  await t.start();
  return t;
}

/**
 * Refuse to send to a host nobody serves: its queue `<topic>.<host>` missing,
 * or present with no consumer. A mandatory publish cannot tell: the journal
 * stream is bound to every `<topic>.#` key, so the message is always routed
 * somewhere; a cast would wait in the queue, a call would time out. Skipped
 * when the transport cannot look (AMQP 1.0 generic family).
 */
export async function requireConsumer(transport: Transport, topic: string, host: string): Promise<void> {
  const queue = `${topic}.${host}`;
  if (!transport.inspectQueue) return;
  const state = await transport.inspectQueue(queue);
  if (state === undefined) throw new TransportError(`no queue ${queue} on the broker: no worker for host "${host}" has run here; nothing sent`, { queue });
  if (state.consumers === 0) {
    throw new TransportError(`no worker consumes ${queue} (${state.messages} message(s) waiting in it): is the worker for host "${host}" running? nothing sent`, { queue });
  }
}

/** Parse a JSON option, or fail with a one-line error naming it. */
export function jsonOption(name: string, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${name} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`--${name} must be a JSON object`);
  return v as Record<string, unknown>;
}
