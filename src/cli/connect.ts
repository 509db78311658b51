/** The broker connection a short-lived CLI command uses. */
import type { Config } from '../config';
import type { Transport } from '../transport/transport';
import { openTransport } from '../worker/connect';

export async function connectCli(config: Config, what: string): Promise<Transport> {
  const t = openTransport(config, { connectionName: `hostwall-${what}:${process.pid}` });
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
