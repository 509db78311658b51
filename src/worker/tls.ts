/**
 * TLS material for a TLS broker URL (amqps://, amqps10://, or ssl=true in the
 * query), read from the files the settings name (tlsCaFile, tlsCertFile,
 * tlsKeyFile), or else the URL's own oslo options (ssl_ca_file,
 * ssl_cert_file, ssl_key_file). Read once at start: rotating a certificate
 * means restarting the worker. Without any file, TLS still works with the
 * system's CA store (Node's default).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import { parseBrokerUrl } from '../transport/broker-url';

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
  const url = parseBrokerUrl(config.amqpUrl);
  const ca = config.tlsCaFile !== '' ? read('tlsCaFile', config.tlsCaFile) : read('the broker URL\'s ssl_ca_file', url.tlsFiles.ca ?? '');
  const cert = config.tlsCertFile !== '' ? read('tlsCertFile', config.tlsCertFile) : read('the broker URL\'s ssl_cert_file', url.tlsFiles.cert ?? '');
  const key = config.tlsKeyFile !== '' ? read('tlsKeyFile', config.tlsKeyFile) : read('the broker URL\'s ssl_key_file', url.tlsFiles.key ?? '');
  if (!ca && !cert && !key) return {};
  if (!url.tls) throw new ConfigError('tlsCaFile/tlsCertFile/tlsKeyFile need a TLS amqpUrl (amqps://, amqps10://, or ssl=true in the query)');
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError('tlsCertFile and tlsKeyFile go together');
  return { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } };
}
