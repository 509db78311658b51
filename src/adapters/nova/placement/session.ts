/**
 * Requests to Placement as nova-compute's keystoneauth session sends them:
 * `Accept: application/json`, `User-Agent: hostwall`, `X-Auth-Token` (not on
 * the version document, which Placement serves to anyone), `OpenStack-API-Version:
 * placement <mv>` only when the call names a microversion (nova-compute sends
 * some calls without one: Placement then answers as 1.0), and the caller's
 * request id as `X-Openstack-Request-Id` when it has the form Placement
 * accepts (`req-<uuid>`; oslo.middleware drops anything else, so it is not sent).
 *
 * `call` resolves with whatever status Placement answered (the caller decides
 * what a 404 or a 409 means); it rejects only with a PlacementError:
 * UNREACHABLE (see http.ts for the retries), AUTH_FAILED (a 401 again after
 * authenticating anew once). `expectReply` turns a reply into the typed body
 * or an HTTP_ERROR / BAD_REPLY naming the request.
 */
import type { z } from 'zod';
import { PlacementError, type PlacementErrorCode } from '../../../errors';
import type { Logger } from '../../../log';
import { type PlacementAuth, safeJson, USER_AGENT } from './auth';
import { PlacementErrorBody } from './bodies';
import { type Failure, scrub, type Wire } from './http';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface PlacementCall {
  method: Method;
  /** From the API root, query included: "/resource_providers?in_tree=...". */
  path: string;
  /** "1.14"; undefined sends no OpenStack-API-Version header. */
  microversion?: string | undefined;
  body?: unknown;
  requestId?: string | undefined;
  /** Sent without a token (GET /). */
  anonymous?: boolean;
}

export interface PlacementReply {
  status: number;
  /** The parsed JSON body; undefined when empty or not JSON. */
  body: unknown;
  /** The body as text, scrubbed and cut short, for error messages. */
  shownText: string;
  placementRequestId: string | undefined;
}

/** One attempt of one request, for tests and metrics. Called synchronously; it must not throw. */
export interface RequestEvent {
  method: Method;
  path: string;
  microversion: string | undefined;
  /** The JSON body sent (Placement bodies hold no secrets). */
  body: unknown;
  attempt: number;
  ms: number;
  status?: number | undefined;
  failure?: Failure | undefined;
}
export type RequestObserver = (event: RequestEvent) => void;

/** oslo.middleware's global request id form; other ids are dropped by Placement. */
const GLOBAL_REQUEST_ID = /^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
const IDEMPOTENT: ReadonlySet<Method> = new Set(['GET', 'DELETE']);

export class PlacementSession {
  constructor(
    private readonly auth: PlacementAuth,
    private readonly wire: Wire,
    private readonly log: Logger,
    private readonly observer?: RequestObserver,
  ) {}

  async call(c: PlacementCall): Promise<PlacementReply> {
    let authenticatedAgain = false;
    for (;;) {
      const credentials = await this.auth.credentials();
      const token = c.anonymous ? undefined : credentials.token;
      const reply = await this.once(credentials.endpoint, token, c);
      if (reply.status !== 401 || c.anonymous) return reply;
      if (!authenticatedAgain && this.auth.invalidate(token)) {
        authenticatedAgain = true;
        this.log.info('placement: token refused (401), authenticating again', { request: `${c.method} ${c.path}` });
        continue;
      }
      throw replyError(c, reply, 'PLACEMENT_AUTH_FAILED', `Placement refused the credentials (401) for ${c.method} ${c.path}`);
    }
  }

  private async once(base: string, token: string | undefined, c: PlacementCall): Promise<PlacementReply> {
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT };
    if (token !== undefined) headers['X-Auth-Token'] = token;
    if (c.microversion !== undefined) headers['OpenStack-API-Version'] = `placement ${c.microversion}`;
    if (c.requestId !== undefined && GLOBAL_REQUEST_ID.test(c.requestId)) headers['X-Openstack-Request-Id'] = c.requestId;
    let body: string | undefined;
    if (c.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(c.body);
    }
    const observer = this.observer;
    const raw = await this.wire.send(
      { method: c.method, url: `${base}${c.path}`, headers, body },
      {
        service: 'Placement',
        shownPath: c.path,
        idempotent: IDEMPOTENT.has(c.method),
        secrets: this.auth.secrets(),
        onAttempt:
          observer &&
          ((a) => {
            try {
              observer({ method: c.method, path: c.path, microversion: c.microversion, body: c.body, ...a });
            } catch (err) {
              // A broken metrics hook must not pass for a broken connection.
              this.log.warn('placement: the request observer threw', { error: err instanceof Error ? err.message : String(err) });
            }
          }),
      },
    );
    return {
      status: raw.status,
      body: raw.text === '' ? undefined : safeJson(raw.text),
      shownText: scrub(raw.text, this.auth.secrets()),
      placementRequestId: raw.headers.get('x-openstack-request-id') ?? undefined,
    };
  }
}

/** The typed body of a reply with one of the `ok` statuses; otherwise a PlacementError naming the call. */
export function expectReply<S extends z.ZodType>(c: PlacementCall, reply: PlacementReply, schema: S, ok: readonly number[] = [200]): z.output<S> {
  if (!ok.includes(reply.status)) throw replyError(c, reply);
  const parsed = schema.safeParse(reply.body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const what = reply.body === undefined ? (reply.shownText === '' ? 'an empty body' : `not JSON: ${reply.shownText}`) : `not the API's shape (${issue?.path.join('.') || 'body'}: ${issue?.message})`;
  return badReply(c, reply, `Placement's ${reply.status} reply to ${c.method} ${c.path} is ${what}`);
}

/** Placement's error code of a reply (`errors[0].code`, microversion >= 1.23), if it has one. */
export function placementCode(reply: PlacementReply): string | undefined {
  const parsed = PlacementErrorBody.safeParse(reply.body);
  return parsed.success ? parsed.data.errors[0]?.code : undefined;
}

/** A reply that is not the success it should be: HTTP_ERROR with Placement's own detail and code. */
export function replyError(c: PlacementCall, reply: PlacementReply, code: PlacementErrorCode = 'PLACEMENT_HTTP_ERROR', prefix?: string): PlacementError {
  const parsed = PlacementErrorBody.safeParse(reply.body);
  const first = parsed.success ? parsed.data.errors[0] : undefined;
  const detail = first ? scrub(first.detail ?? first.title ?? '', []) : reply.shownText;
  const head = prefix ?? `Placement answered ${reply.status} to ${c.method} ${c.path}`;
  return new PlacementError(code, `${head}: ${detail}`.trim(), {
    status: reply.status,
    placementCode: first?.code,
    request: `${c.method} ${c.path}`,
    placementRequestId: reply.placementRequestId,
  });
}

function badReply(c: PlacementCall, reply: PlacementReply, message: string): never {
  throw new PlacementError('PLACEMENT_BAD_REPLY', message, { status: reply.status, request: `${c.method} ${c.path}`, placementRequestId: reply.placementRequestId });
}
