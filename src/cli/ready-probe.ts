/**
 * `node dist/src/cli/ready-probe.js [address]`: asks this host's worker
 * whether it is ready (GET /readyz on `--http-address`), for the Dockerfile's
 * HEALTHCHECK and anyone's shell. Exit 0 when ready, 1 when not or when
 * nothing answers within 5 s; prints the worker's answer in one line.
 *
 * Deliberately tiny (node:http and nothing of the worker), because a
 * container runtime starts it every few seconds. The address is the
 * argument, else HOSTWALL_HTTP_ADDRESS, else 127.0.0.1:9464 (the image's).
 */
import { get } from 'node:http';
import { TransportError } from '../errors';

const TIMEOUT_MS = 5_000;

/** `[host:]port` → the URL of /readyz on it; a wildcard address is asked on loopback. */
export function readyzUrl(address: string): string {
  const i = address.lastIndexOf(':');
  const host = i < 0 ? '127.0.0.1' : address.slice(0, i);
  const port = i < 0 ? address : address.slice(i + 1);
  const local = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return `http://${local}:${port}/readyz`;
}

function main(): void {
  const address = process.argv[2] ?? (process.env.HOSTWALL_HTTP_ADDRESS || '127.0.0.1:9464');
  const url = readyzUrl(address);
  const req = get(url, { timeout: TIMEOUT_MS }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      body += d;
    });
    res.on('end', () => {
      process.stdout.write(`${res.statusCode} ${body.trim()}\n`);
      process.exit(res.statusCode === 200 ? 0 : 1);
    });
  });
  req.on('timeout', () => req.destroy(new TransportError(`no answer in ${TIMEOUT_MS} ms`)));
  req.on('error', (err) => {
    process.stdout.write(`hostwall: ${url}: ${err.message}\n`);
    process.exit(1);
  });
}

if (require.main === module) main();
