/** The broker connection a short-lived CLI command uses. */
import { createAmqp091Transport } from '../transport/amqp091';
import type { Transport } from '../transport/transport';

export async function connectCli(amqpUrl: string, what: string): Promise<Transport> {
  const t = createAmqp091Transport({ url: amqpUrl, connectionName: `hostwall-${what}:${process.pid}` });
  await t.start();
  return t;
}

/** Parse a JSON option, or fail with a one-line error naming it. */
export function jsonOption(name: string, text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`--${name} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`--${name} must be a JSON object`);
  return v as Record<string, unknown>;
}
