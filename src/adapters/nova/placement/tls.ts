/**
 * TLS for Placement and Keystone as keystoneauth's session options have it:
 * `cafile` (PEM bundle that replaces the system CAs), `certfile`/`keyfile`
 * (client certificate), `insecure` (no verification).
 *
 * Node's global fetch takes these only through an undici dispatcher, and Node
 * bundles undici without exporting it. The Agent class is taken from the
 * global dispatcher Node's fetch installs (`Symbol.for('undici.globalDispatcher.1')`,
 * the key undici documents for sharing one dispatcher between copies), after a
 * `data:` fetch that installs it without touching the network. If a Node
 * release ever stops exposing it, the settings fail loudly at start (a
 * ConfigError), never silently without verification. Adding the `undici`
 * package would make this an import.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../../errors';
import type { PlacementSettings } from './settings';

/** What fetch's non-standard `dispatcher` option takes (undici's Dispatcher). */
export type Dispatcher = NonNullable<RequestInit['dispatcher']>;

type AgentClass = new (opts: { connect: Record<string, unknown> }) => Dispatcher;

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

async function bundledAgentClass(): Promise<AgentClass | undefined> {
  const holder = globalThis as unknown as Record<symbol, unknown>;
  if (holder[GLOBAL_DISPATCHER] === undefined) await fetch('data:,');
  const current = holder[GLOBAL_DISPATCHER];
  if (typeof current !== 'object' || current === null) return undefined;
  const ctor: unknown = current.constructor;
  if (typeof ctor !== 'function' || typeof (current as { dispatch?: unknown }).dispatch !== 'function') return undefined;
  return ctor as AgentClass;
}

/**
 * The dispatcher for these settings, or undefined when the defaults do (no
 * TLS option set: the system CAs, full verification).
 */
export async function tlsDispatcher(settings: PlacementSettings): Promise<Dispatcher | undefined> {
  const { cafile, certfile, keyfile, insecure } = settings;
  if (cafile === undefined && certfile === undefined && keyfile === undefined && !insecure) return undefined;
  if ((certfile === undefined) !== (keyfile === undefined)) throw new ConfigError(`[placement] ${certfile === undefined ? 'certfile' : 'keyfile'} is required with ${certfile === undefined ? 'keyfile' : 'certfile'}`);
  const connect: Record<string, unknown> = { rejectUnauthorized: !insecure };
  const read = async (key: string, path: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`[placement] ${key} = ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  if (cafile !== undefined) connect['ca'] = await read('cafile', cafile);
  if (certfile !== undefined && keyfile !== undefined) {
    connect['cert'] = await read('certfile', certfile);
    connect['key'] = await read('keyfile', keyfile);
  }
  const Agent = await bundledAgentClass();
  if (Agent === undefined) throw new ConfigError('[placement] cafile, certfile, keyfile and insecure need an undici Agent, which this Node does not expose');
  return new Agent({ connect });
}
