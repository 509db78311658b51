/**
 * One HTTP exchange with Placement or Keystone over Node's global fetch:
 * every attempt bounded by the `timeout` setting (headers and body alike), a
 * failed attempt tried again only when that is safe, and any text shown in an
 * error scrubbed of secrets.
 *
 * Retry rule: a refused or unresolvable connection means the request never
 * left, so any method is tried again; a reset or a timeout may come after the
 * server acted, so only idempotent requests (the caller says which: GET,
 * DELETE, Keystone's token POST) are. Up to `connect_retries` more attempts,
 * `connect_retry_delay` doubling up to 10 s between them (keystoneauth's
 * connect retries). A certificate that does not verify is not tried again
 * (it will not verify next time either). An HTTP status is an answer, never
 * retried here; redirects are not followed (a token must not follow one to
 * another host), so a 3xx is an answer too.
 */
import { PlacementError } from '../../../errors';
import type { Dispatcher } from './tls';

export type Failure = 'refused' | 'reset' | 'timeout' | 'tls';

export interface Exchange {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
}

export interface RawReply {
  status: number;
  headers: Headers;
  text: string;
}

export interface AttemptReport {
  attempt: number;
  ms: number;
  status?: number;
  failure?: Failure;
}

export interface SendOptions {
  /** Who is asked, for messages: "Placement" or "Keystone". */
  service: string;
  /** The path as errors show it (no host, no secrets). */
  shownPath: string;
  idempotent: boolean;
  /** Strings that must not appear in any error text. */
  secrets: readonly string[];
  onAttempt?: ((report: AttemptReport) => void) | undefined;
}

export interface WireOptions {
  timeoutMs: number;
  connectRetries: number;
  connectRetryDelayMs: number;
  /** TLS options (tls.ts), resolved once; a rejection (a bad cafile) fails every send with it. */
  dispatcher?: Promise<Dispatcher | undefined> | undefined;
}

const MAX_RETRY_DELAY_MS = 10_000;

export class Wire {
  constructor(private readonly opts: WireOptions) {}

  async send(ex: Exchange, o: SendOptions): Promise<RawReply> {
    const attempts = 1 + this.opts.connectRetries;
    const dispatcher = await this.opts.dispatcher;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const reply = await this.once(ex, dispatcher);
        o.onAttempt?.({ attempt, ms: performance.now() - started, status: reply.status });
        return reply;
      } catch (err) {
        const failure = classify(err);
        o.onAttempt?.({ attempt, ms: performance.now() - started, failure });
        const safe = failure === 'refused' || (failure !== 'tls' && o.idempotent);
        if (!safe || attempt >= attempts) {
          const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
          throw new PlacementError('PLACEMENT_UNREACHABLE', `${o.service} at ${new URL(ex.url).origin} did not answer ${ex.method} ${o.shownPath}: ${describe(err, failure, this.opts.timeoutMs, o.secrets)}${tries}`, {
            request: `${ex.method} ${o.shownPath}`,
          });
        }
        const delay = Math.min(this.opts.connectRetryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async once(ex: Exchange, dispatcher: Dispatcher | undefined): Promise<RawReply> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    // `dispatcher` is undici's extension of RequestInit (TLS options), see tls.ts.
    const init: RequestInit = { method: ex.method, headers: ex.headers, body: ex.body, signal, redirect: 'manual' };
    if (dispatcher !== undefined) init.dispatcher = dispatcher;
    const res = await fetch(ex.url, init);
    // The same signal bounds the body: a server that stalls mid-body times out too.
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  }
}

/** OpenSSL's verification codes and Node's TLS errors. */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|^ERR_TLS|^ERR_SSL/;

function classify(err: unknown): Failure {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  if (TLS_CODE.test(code)) return 'tls';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) return 'refused';
  return 'reset';
}

function describe(err: unknown, failure: Failure, timeoutMs: number, secrets: readonly string[]): string {
  if (failure === 'timeout') return `no reply within ${timeoutMs / 1000} s`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const text = cause ? `${typeof code === 'string' ? `${code} ` : ''}${cause.message}` : err instanceof Error ? err.message : String(err);
  const hint = failure === 'tls' ? ' ([placement] cafile names the CA that signed it; insecure = true skips the check)' : '';
  return scrub(text, secrets) + hint;
}

/**
 * Text from the other side made fit for an error message: markup dropped,
 * whitespace collapsed, at most `max` characters, and every secret replaced
 * (a proxy's error page may echo a request back).
 */
export function scrub(text: string, secrets: readonly string[], max = 300): string {
  let out = text.replace(/<[^>]*>/g, ' ');
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('***');
  }
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
