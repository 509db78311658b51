/**
 * TLS material for an amqps:// broker URL, read from the files the settings
 * name (tlsCaFile, tlsCertFile, tlsKeyFile). Read once at start: rotating a
 * certificate means restarting the worker. Without any file, TLS still works
 * with the system's CA store (Node's default).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config';
import { ConfigError } from '../errors';

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function read(setting: string, path: string): Buffer | undefined {
  if (path === '') return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${setting} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Options for createAmqp091Transport: `{ tls }` for amqps:// URLs with files configured, else nothing. */
export function transportTls(config: Pick<Config, 'amqpUrl' | 'tlsCaFile' | 'tlsCertFile' | 'tlsKeyFile'>): { tls?: TlsFiles } {
  const ca = read('tlsCaFile', config.tlsCaFile);
  const cert = read('tlsCertFile', config.tlsCertFile);
  const key = read('tlsKeyFile', config.tlsKeyFile);
  if (!ca && !cert && !key) return {};
  if (!config.amqpUrl.startsWith('amqps://')) throw new ConfigError('tlsCaFile/tlsCertFile/tlsKeyFile need an amqps:// amqpUrl');
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('tlsCertFile and tlsKeyFile go together');
  return { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } };
}
