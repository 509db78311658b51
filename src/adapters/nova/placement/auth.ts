/**
 * Where Placement is and which token to send, per the `[placement]` auth_type.
 *
 * - password: Keystone v3 (POST <auth_url>/v3/auth/tokens; an auth_url that
 *   already ends in /v3 is used as is; the unversioned-URL discovery
 *   keystoneauth can do is not), the token from X-Subject-Token, Placement's
 *   URL from its catalog (catalog.ts) unless endpoint_override. The token is
 *   reused until 120 s before it expires (keystoneauth's
 *   MIN_TOKEN_LIFE_SECONDS); concurrent callers share one authentication; on
 *   a 401 from Placement the session forgets the token and asks once more.
 * - admin_token: the configured token as is, to the configured endpoint; a
 *   401 is final.
 * - none: no token.
 * The password and tokens are secrets: never logged, scrubbed from any text
 * put in an error (`secrets()`).
 */
import { ConfigError, PlacementError } from '../../../errors';
import type { Logger } from '../../../log';
import { chooseEndpoint, KeystoneErrorBody, TokenReply } from './catalog';
import { scrub, type Wire } from './http';
import type { PasswordSettings, PlacementSettings } from './settings';

export interface PlacementCredentials {
  /** Placement's base URL, without a trailing slash. */
  endpoint: string;
  /** The token to send, or undefined when this auth_type sends none. */
  token: string | undefined;
}

export interface PlacementAuth {
  /** Where to send the next request and with which token (one authentication at most). */
  credentials(): Promise<PlacementCredentials>;
  /** Placement refused `token` with a 401: forget it. True when asking again can bring a different token. */
  invalidate(token: string | undefined): boolean;
  /** Strings that must never appear in a log line or an error. */
  secrets(): string[];
}

export const USER_AGENT = 'hostwall';
/** keystoneauth's MIN_TOKEN_LIFE_SECONDS: a token this close to expiry is replaced before use. */
const MIN_TOKEN_LIFE_MS = 120_000;

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function placementAuth(settings: PlacementSettings, wire: Wire, log: Logger): PlacementAuth {
  switch (settings.auth_type) {
    case 'password':
      return new KeystonePasswordAuth(settings, wire, log);
    case 'admin_token':
      return new StaticAuth(trimSlash(settings.endpoint_override ?? settings.endpoint ?? ''), settings.token);
    case 'none':
      return new StaticAuth(trimSlash(settings.endpoint_override ?? settings.endpoint ?? ''), undefined);
  }
}

class StaticAuth implements PlacementAuth {
  constructor(
    private readonly url: string,
    private readonly value: string | undefined,
  ) {}
  async credentials(): Promise<PlacementCredentials> {
    return { endpoint: this.url, token: this.value };
  }
  invalidate(): boolean {
    return false;
  }
  secrets(): string[] {
    return this.value === undefined ? [] : [this.value];
  }
}

/** The Keystone v3 tokens URL of an auth_url given with or without /v3. */
export function keystoneTokensUrl(authUrl: string): string {
  const base = trimSlash(authUrl);
  if (/\/v2\.0$/.test(base)) throw new ConfigError('[placement] auth_url points at Keystone v2.0: give the v3 URL (or the unversioned one)');
  return /\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`;
}

interface KeystoneToken {
  token: string;
  expiresAt: number;
  /** Placement's URL from this token's catalog (or endpoint_override). */
  endpoint: string;
}

class KeystonePasswordAuth implements PlacementAuth {
  private current: KeystoneToken | undefined;
  private pending: Promise<KeystoneToken> | undefined;
  /** Every token obtained, so a stale one in a late error is still scrubbed. */
  private readonly issued: string[] = [];
  private readonly tokensUrl: string;

  constructor(
    private readonly s: PasswordSettings,
    private readonly wire: Wire,
    private readonly log: Logger,
  ) {
    this.tokensUrl = keystoneTokensUrl(s.auth_url);
  }

  async credentials(): Promise<PlacementCredentials> {
    const { endpoint, token } = await this.fresh();
    return { endpoint, token };
  }

  invalidate(token: string | undefined): boolean {
    if (this.current?.token === token) this.current = undefined;
    return true;
  }

  secrets(): string[] {
    return [this.s.password, ...this.issued];
  }

  private fresh(): Promise<KeystoneToken> {
    const current = this.current;
    if (current !== undefined && current.expiresAt - Date.now() > MIN_TOKEN_LIFE_MS) return Promise.resolve(current);
    this.pending ??= this.authenticate().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async authenticate(): Promise<KeystoneToken> {
    const s = this.s;
    const who = `user ${JSON.stringify(s.username ?? s.user_id)} of project ${JSON.stringify(s.project_name ?? s.project_id)}`;
    const shownPath = new URL(this.tokensUrl).pathname;
    const request = `POST ${shownPath}`;
    const reply = await this.wire.send(
      { method: 'POST', url: this.tokensUrl, headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': USER_AGENT }, body: JSON.stringify(this.body()) },
      // Asking for a token twice only issues two tokens: safe to repeat.
      { service: 'Keystone', shownPath, idempotent: true, secrets: this.secrets() },
    );
    const text = scrub(reply.text, this.secrets());
    if (reply.status !== 201 && reply.status !== 200) {
      const parsed = KeystoneErrorBody.safeParse(safeJson(reply.text));
      const why = parsed.success ? scrub(parsed.data.error.message ?? parsed.data.error.title ?? '', this.secrets()) : text;
      const code = reply.status >= 500 ? 'PLACEMENT_HTTP_ERROR' : 'PLACEMENT_AUTH_FAILED';
      throw new PlacementError(code, `Keystone at ${new URL(this.tokensUrl).origin} refused a token for ${who}: ${reply.status} ${why}`.trim(), { status: reply.status, request });
    }
    const token = reply.headers.get('x-subject-token');
    const body = TokenReply.safeParse(safeJson(reply.text));
    if (!token || !body.success) {
      const why = !token ? 'no X-Subject-Token header' : `not a v3 token (${body.error?.issues[0]?.path.join('.')}: ${body.error?.issues[0]?.message})`;
      throw new PlacementError('PLACEMENT_BAD_REPLY', `Keystone's reply to ${request} has ${why}`, { status: reply.status, request });
    }
    this.issued.push(token);
    if (this.issued.length > 16) this.issued.shift();
    let endpoint = s.endpoint_override;
    if (endpoint === undefined) {
      const choice = chooseEndpoint(body.data.token.catalog, s);
      if ('problem' in choice) throw new PlacementError('PLACEMENT_AUTH_FAILED', `no Placement endpoint for ${who}: ${choice.problem}`, { request });
      endpoint = choice.url;
    }
    const fresh = { token, expiresAt: Date.parse(body.data.token.expires_at), endpoint: trimSlash(endpoint) };
    this.current = fresh;
    this.log.debug('placement: keystone token obtained', { auth_url: s.auth_url, endpoint: fresh.endpoint, expires_at: body.data.token.expires_at });
    return fresh;
  }

  private body() {
    const s = this.s;
    const domain = (id: string | undefined, name: string | undefined) =>
      id !== undefined ? { id } : name !== undefined ? { name } : s.default_domain_id !== undefined ? { id: s.default_domain_id } : { name: s.default_domain_name };
    const user = s.user_id !== undefined ? { id: s.user_id, password: s.password } : { name: s.username, domain: domain(s.user_domain_id, s.user_domain_name), password: s.password };
    const project = s.project_id !== undefined ? { id: s.project_id } : { name: s.project_name, domain: domain(s.project_domain_id, s.project_domain_name) };
    return { auth: { identity: { methods: ['password'], password: { user } }, scope: { project } } };
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
