/**
 * The TLS material a transport connects with, the same for both protocols:
 * what its options give (the worker's settings, read by worker/tls.ts), or
 * else the files the broker URL's own oslo options name (ssl_ca_file,
 * ssl_cert_file, ssl_key_file), read here when the transport is created.
 * A file that cannot be read is a ConfigError naming it, before any
 * connection: a TLS URL never silently connects with less than it asked
 * for (the system's CA store instead of a missing CA file).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import type { BrokerUrl } from './broker-url';

type Pem = string | Buffer;

export interface TlsMaterial {
  ca?: Pem;
  cert?: Pem;
  key?: Pem;
}

function readUrlFile(option: string, path: string | undefined): Buffer | undefined {
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`the broker URL's ${option} ${path}: ${err instanceof Error ? err.message : String(err)}`, { option, path });
  }
}

/** `given` when set; else the URL's files (a non-TLS URL naming files is refused, as for the settings). */
export function tlsMaterial(broker: BrokerUrl, given: TlsMaterial | undefined, transport: string): TlsMaterial | undefined {
  if (given !== undefined) return given;
  const { ca: caPath, cert: certPath, key: keyPath } = broker.tlsFiles;
  if (caPath === undefined && certPath === undefined && keyPath === undefined) return undefined;
  if (!broker.tls) throw new ConfigError(`${transport}: the broker URL names TLS files (ssl_ca_file, ssl_cert_file, ssl_key_file) but is not a TLS URL (amqps://, amqps10://, or ssl=true in the query)`);
  const ca = readUrlFile('ssl_ca_file', caPath);
  const cert = readUrlFile('ssl_cert_file', certPath);
  const key = readUrlFile('ssl_key_file', keyPath);
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError(`${transport}: the broker URL's ssl_cert_file and ssl_key_file go together`);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** The material that is set, as a socket's TLS options (an absent key, never `ca: undefined`). */
export function pemFields(tls: TlsMaterial | undefined): TlsMaterial {
  return {
    ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls?.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls?.key !== undefined ? { key: tls.key } : {}),
  };
}
