/**
 * The worker's HTTP endpoint (`--http-address`, off by default):
 *
 *   GET /healthz  200 while the process lives and the worker has not
 *                 stopped (liveness: restarting it would not help otherwise);
 *   GET /readyz   200 when every readiness check passes, else 503; the body
 *                 is JSON naming each check (readiness.ts);
 *   GET /metrics  Prometheus text (metrics.ts).
 *
 * It has no authentication and changes nothing: a bare port listens on
 * 127.0.0.1 only. Requests are bounded (headers and whole request 10 s); the
 * server never holds the worker open (its sockets are closed on stop).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors';
import type { Logger } from '../log';
import type { WorkerMetrics } from './metrics';
import type { Readiness } from './readiness';

export interface StatusSources {
  state(): string;
  readiness(): Promise<Readiness>;
  metrics: WorkerMetrics;
  log: Logger;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** `[host:]port` → where to listen; a bare port is 127.0.0.1. */
export function listenTarget(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) return { host: '127.0.0.1', port: Number(address) };
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(i + 1)) };
}

export class StatusServer {
  private server: Server | undefined;

  constructor(private readonly src: StatusSources) {}

  /** Listen; a ConfigError names the address if it cannot (in use, not local). Resolves with the address bound. */
  async start(address: string): Promise<string> {
    const { host, port } = listenTarget(address);
    const server = createServer((req, res) => void this.handle(req, res));
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ConfigError(`http address ${address}: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.src.log.warn('http endpoint error', { error: err.message }));
    this.server = server;
    const a = server.address() as AddressInfo;
    return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
      const path = (req.url ?? '/').split('?')[0];
      switch (path) {
        case '/healthz': {
          const state = this.src.state();
          return send(res, state === 'stopped' ? 503 : 200, 'application/json', `${JSON.stringify({ status: state === 'stopped' ? 'stopped' : 'ok', state })}\n`);
        }
        case '/readyz': {
          const r = await this.src.readiness();
          return send(res, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`);
        }
        case '/metrics':
          return send(res, 200, this.src.metrics.contentType, await this.src.metrics.exposition());
        default:
          return send(res, 404, 'text/plain', 'not found: /healthz, /readyz, /metrics\n');
      }
    } catch (err) {
      this.src.log.warn('http endpoint request failed', { url: req.url, error: String(err) });
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
