/**
 * How hostwall reaches Placement: the `[placement]` section of
 * nova-compute.conf, as keystoneauth reads it, so an operator keeps the file
 * nova-compute used.
 *
 * Field names ARE the INI keys (snake_case), so an error names the key the
 * operator wrote. Three `auth_type`s:
 * - `password` (alias `v3password`): Keystone v3 password authentication,
 *   `auth_url` with or without `/v3`; the user by `username` + user domain or
 *   by `user_id`; the project by `project_name` + project domain or by
 *   `project_id`; `default_domain_id`/`_name` stand in for a missing domain, as
 *   in keystoneauth. Placement's URL comes from the token's catalog (service
 *   `service_type`, region `region_name`, the first of `valid_interfaces` that
 *   has one) unless `endpoint_override` is set.
 * - `admin_token`: `token` sent as is to `endpoint_override` or `endpoint`.
 * - `none`: no token at all, to `endpoint_override` or `endpoint` (a
 *   Placement with `auth_strategy = noauth2` still wants some X-Auth-Token:
 *   use admin_token there).
 * Transport for all three: `timeout` (seconds per attempt, default 30 where
 * keystoneauth has none: every request hostwall makes has a bound),
 * `connect_retries` and `connect_retry_delay` (keystoneauth's adapter
 * options), `cafile`, `certfile`, `keyfile`, `insecure`.
 *
 * Not supported, refused with a ConfigError rather than half-honoured:
 * `auth_section` (the section is read alone), domain, system and trust scopes
 * (Placement wants a project-scoped token). Keys this module does not know
 * are returned in `ignored`, for the caller's one info line.
 */
import { z } from 'zod';
import { ConfigError } from '../../../errors';

const HttpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
const Name = z.string().min(1);
export const Interface = z.enum(['public', 'internal', 'admin']);
export type Interface = z.output<typeof Interface>;

/** Options every auth_type shares: where Placement is and how to talk to it. */
const transport = {
  endpoint_override: HttpUrl.optional(),
  region_name: Name.optional(),
  valid_interfaces: z.array(Interface).min(1).default(['internal', 'public']),
  service_type: Name.default('placement'),
  service_name: Name.optional(),
  timeout: z.number().positive().max(3600).default(30),
  connect_retries: z.number().int().min(0).max(20).default(3),
  connect_retry_delay: z.number().min(0).max(60).default(0.5),
  cafile: Name.optional(),
  certfile: Name.optional(),
  keyfile: Name.optional(),
  insecure: z.boolean().default(false),
};

const PasswordSettings = z
  .object({
    auth_type: z.literal('password'),
    auth_url: HttpUrl,
    username: Name.optional(),
    user_id: Name.optional(),
    password: z.string().min(1, 'is required'),
    user_domain_name: Name.optional(),
    user_domain_id: Name.optional(),
    project_name: Name.optional(),
    project_id: Name.optional(),
    project_domain_name: Name.optional(),
    project_domain_id: Name.optional(),
    default_domain_name: Name.optional(),
    default_domain_id: Name.optional(),
    ...transport,
  })
  .superRefine((s, ctx) => {
    const defaultDomain = s.default_domain_id !== undefined || s.default_domain_name !== undefined;
    if (s.username === undefined && s.user_id === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required (or user_id)' });
    if (s.user_id === undefined && s.username !== undefined && s.user_domain_name === undefined && s.user_domain_id === undefined && !defaultDomain) {
      ctx.addIssue({ code: 'custom', path: ['user_domain_name'], message: 'is required with username (or user_domain_id, or default_domain_id)' });
    }
    if (s.project_name === undefined && s.project_id === undefined) ctx.addIssue({ code: 'custom', path: ['project_name'], message: 'is required (or project_id): Placement needs a project-scoped token' });
    if (s.project_id === undefined && s.project_name !== undefined && s.project_domain_name === undefined && s.project_domain_id === undefined && !defaultDomain) {
      ctx.addIssue({ code: 'custom', path: ['project_domain_name'], message: 'is required with project_name (or project_domain_id, or default_domain_id)' });
    }
  });

const needsEndpoint = (s: { endpoint?: string | undefined; endpoint_override?: string | undefined }, ctx: z.RefinementCtx) => {
  if (s.endpoint === undefined && s.endpoint_override === undefined) ctx.addIssue({ code: 'custom', path: ['endpoint_override'], message: 'is required (or endpoint): without Keystone there is no catalog to find Placement in' });
};

const AdminTokenSettings = z.object({ auth_type: z.literal('admin_token'), endpoint: HttpUrl.optional(), token: z.string().min(1, 'is required'), ...transport }).superRefine(needsEndpoint);
const NoAuthSettings = z.object({ auth_type: z.literal('none'), endpoint: HttpUrl.optional(), ...transport }).superRefine(needsEndpoint);

export const PlacementSettings = z.discriminatedUnion('auth_type', [PasswordSettings, AdminTokenSettings, NoAuthSettings]);
export type PlacementSettings = z.output<typeof PlacementSettings>;
export type PasswordSettings = z.output<typeof PasswordSettings>;

/** Keys whose values are secrets: never echoed in an error. */
const SECRET_KEYS = new Set(['password', 'token']);

type Kind = 'string' | 'number' | 'bool' | 'interfaces';
const KEY_KIND: Record<string, Kind> = {
  auth_type: 'string', auth_url: 'string', username: 'string', user_id: 'string', password: 'string',
  user_domain_name: 'string', user_domain_id: 'string', project_name: 'string', project_id: 'string',
  project_domain_name: 'string', project_domain_id: 'string', default_domain_name: 'string', default_domain_id: 'string',
  endpoint: 'string', token: 'string', endpoint_override: 'string', region_name: 'string', valid_interfaces: 'interfaces',
  service_type: 'string', service_name: 'string', timeout: 'number', connect_retries: 'number', connect_retry_delay: 'number',
  cafile: 'string', certfile: 'string', keyfile: 'string', insecure: 'bool',
};
const REFUSED_KEYS: Record<string, string> = {
  auth_section: 'is not supported: put the auth options in [placement] itself',
  system_scope: 'is not supported: Placement wants a project-scoped token (project_name or project_id)',
  domain_id: 'is not supported: Placement wants a project-scoped token (project_name or project_id)',
  domain_name: 'is not supported: Placement wants a project-scoped token (project_name or project_id)',
  trust_id: 'is not supported: Placement wants a project-scoped token (project_name or project_id)',
};
const AUTH_TYPE_ALIASES: Record<string, string> = { password: 'password', v3password: 'password', admin_token: 'admin_token', none: 'none' };

export interface PlacementIniSettings {
  settings: PlacementSettings;
  /** Keys present in the section that this module does not use (nova-only or keystoneauth options hostwall has no use for). */
  ignored: string[];
}

/**
 * The settings from the `[placement]` section as the INI reader gives it
 * (values as strings, lists comma-separated, an empty value = unset, as
 * oslo.config has it for these options). Throws a one-line ConfigError naming
 * the key; a secret's value is never in it.
 */
export function placementSettingsFromIni(section: Readonly<Record<string, string>>): PlacementIniSettings {
  const raw: Record<string, unknown> = {};
  const ignored: string[] = [];
  for (const [key, text] of Object.entries(section)) {
    const refused = REFUSED_KEYS[key];
    if (refused !== undefined) throw new ConfigError(`[placement] ${key} ${refused}`);
    const kind = KEY_KIND[key];
    if (kind === undefined) {
      if (key !== 'interface') ignored.push(key);
      continue;
    }
    const value = text.trim();
    if (value === '') continue;
    raw[key] = parseValue(key, kind, value);
  }
  // keystoneauth's older single `interface` option, when the list is not given.
  const single = section['interface']?.trim();
  if (single && raw['valid_interfaces'] === undefined) raw['valid_interfaces'] = parseValue('interface', 'interfaces', single);
  else if (single) ignored.push('interface');
  if (raw['auth_type'] === undefined) throw new ConfigError('[placement] auth_type is missing: password, admin_token or none');
  const authType = AUTH_TYPE_ALIASES[String(raw['auth_type'])];
  if (authType === undefined) throw new ConfigError(`[placement] auth_type = ${JSON.stringify(raw['auth_type'])} is not supported: password (v3password), admin_token or none`);
  raw['auth_type'] = authType;
  for (const key of Object.keys(raw)) {
    if (!belongsTo(authType, key)) ignored.push(key);
  }
  const parsed = PlacementSettings.safeParse(Object.fromEntries(Object.entries(raw).filter(([k]) => belongsTo(authType, k))));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue ? String(issue.path[0] ?? 'auth_type') : 'auth_type';
    const missing = raw[key] === undefined;
    const shown = SECRET_KEYS.has(key) || missing ? '' : ` (got ${JSON.stringify(raw[key])})`;
    const problem = missing && issue?.code === 'invalid_type' ? 'is required' : (issue?.message ?? 'is invalid');
    throw new ConfigError(`[placement] ${key} ${problem}${shown}`.replace(/\s+/g, ' '));
  }
  return { settings: parsed.data, ignored: ignored.sort() };
}

/** Which keys an auth_type reads; the rest of the password plugin's keys mean nothing to admin_token, and so on. */
function belongsTo(authType: string, key: string): boolean {
  const shape = authType === 'password' ? PasswordSettings.shape : authType === 'admin_token' ? AdminTokenSettings.shape : NoAuthSettings.shape;
  return key in shape;
}

function parseValue(key: string, kind: Kind, value: string): unknown {
  const shown = SECRET_KEYS.has(key) ? '' : ` (got ${JSON.stringify(value)})`;
  switch (kind) {
    case 'string':
      return value;
    case 'number': {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new ConfigError(`[placement] ${key} must be a number${shown}`);
      return n;
    }
    case 'bool': {
      const v = value.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(v)) return true;
      if (['false', 'no', 'off', '0'].includes(v)) return false;
      throw new ConfigError(`[placement] ${key} must be true or false${shown}`);
    }
    case 'interfaces': {
      // keystoneauth accepts "internalURL" for "internal" (the v2 catalog's spelling).
      const items = value.split(',').map((s) => s.trim().replace(/URL$/, '')).filter((s) => s !== '');
      for (const item of items) {
        if (!Interface.safeParse(item).success) throw new ConfigError(`[placement] ${key} has ${JSON.stringify(item)}: each must be public, internal or admin`);
      }
      return items;
    }
  }
}
