/**
 * A broker URL (--amqp-url, AMQP_URL) compiled once: the protocol, TLS, the
 * hosts to try in order with their own credentials, the vhost, and the
 * query options hostwall uses. The syntax is oslo.messaging's transport_url
 * (transport-url.ts), so one URL names several brokers:
 *
 *   rabbit://u1:p1@h1:5672,u2:p2@h2:5672/vhost?ssl=true
 *
 * Schemes, and what each means HERE:
 *   rabbit://             AMQP 0-9-1, as oslo's rabbit driver; TLS with ?ssl=true (port still 5672 unless given, as oslo)
 *   amqp://, amqps://     AMQP 0-9-1 (amqplib); amqps is TLS, default port 5671
 *   amqp10://, amqps10:// AMQP 1.0 (rhea); amqps10 is TLS, default port 5671
 * Beware: in an oslo transport_url, amqp:// names oslo's AMQP 1.0 driver
 * (amqp1). hostwall's own flag keeps amqp:// = 0-9-1; a URL read from an
 * oslo configuration file goes through `fromOsloTransportUrl` first, which
 * turns amqp:// into amqp10:// and leaves rabbit:// as it is.
 *
 * Defaults, as oslo's drivers apply them:
 * - AMQP 0-9-1: a host without user or password uses guest / guest for the
 *   missing one (kombu's default; oslo copies nothing from the other hosts,
 *   and warns when some hosts have credentials and others not);
 * - AMQP 1.0: no user means no credentials (SASL ANONYMOUS), as oslo's amqp1;
 * - no host at all is localhost; an empty vhost ("", "/") is "/".
 * Failover order is the order written (kombu_failover_strategy=shuffle picks
 * the next host at random); oslo shuffles the list once at start, hostwall
 * does not: the first host is the preferred one.
 */
import { z } from 'zod';
import { ConfigError } from '../errors';
import { parseTransportUrl, redactEntry, urlsplit } from './transport-url';
import { AMQPLIB_OPTIONS, OSLO_RABBIT_OPTIONS, urlOptions } from './url-options';

export const BrokerScheme = z.enum(['rabbit', 'amqp', 'amqps', 'amqp10', 'amqps10']);
export type BrokerScheme = z.infer<typeof BrokerScheme>;

export const BrokerHost = z.object({
  /** Lower-cased, without brackets for IPv6. */
  hostname: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  username: z.string().optional(),
  password: z.string().optional(),
  /** `host:port` (`[v6]:port`), for logs. */
  address: z.string(),
});
export type BrokerHost = z.infer<typeof BrokerHost>;

export const BrokerUrl = z.object({
  scheme: BrokerScheme,
  protocol: z.enum(['amqp091', 'amqp10']),
  tls: z.boolean(),
  /** In failover order. */
  hosts: z.array(BrokerHost).min(1),
  vhost: z.string().min(1),
  /** From the query (heartbeat_timeout_threshold, idle_timeout or amqplib's heartbeat), if given. */
  heartbeatS: z.number().int().min(0).optional(),
  failover: z.enum(['round-robin', 'shuffle']),
  /** ssl_ca_file, ssl_cert_file, ssl_key_file from the query (paths). */
  tlsFiles: z.object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }),
  /** amqplib tuning from the query (amqp(s):// only). */
  amqplib: z.object({ frameMax: z.number().int().optional(), channelMax: z.number().int().optional(), locale: z.string().optional() }),
  /** Things oslo would accept that hostwall ignores or finds suspicious; log them once. */
  warnings: z.array(z.string()),
  /** The whole URL, every password hidden. */
  safe: z.string(),
});
export type BrokerUrl = z.infer<typeof BrokerUrl>;

const SCHEMES = BrokerScheme.options.map((s) => `${s}://`).join(', ');

/** Parse and compile; throws ConfigError naming the offending part (never a password). */
export function parseBrokerUrl(url: string): BrokerUrl {
  const raw = parseTransportUrl(url.trim());
  const scheme = BrokerScheme.safeParse(raw.transport);
  if (!scheme.success) throw new ConfigError(`broker URL scheme "${raw.transport}://" is not one of ${SCHEMES}`);
  const s = scheme.data;
  const amqp10 = s === 'amqp10' || s === 'amqps10';
  const opts = urlOptions(raw.query, amqp10 ? 'amqp10' : s === 'rabbit' ? 'rabbit' : 'amqp');
  const tlsScheme = s === 'amqps' || s === 'amqps10';
  if (tlsScheme && opts.ssl === false) throw new ConfigError(`broker URL: ${s}:// is TLS but the query says ssl=false`);
  const tls = tlsScheme || opts.ssl === true;
  const defaultPort = tlsScheme ? 5671 : 5672;
  const warnings = [...opts.warnings];
  const written = raw.hosts.length > 0 ? raw.hosts : [{ hostname: 'localhost', port: null, username: null, password: null }];
  const hosts = written.map((h, i): BrokerHost => {
    if (!h.hostname) throw new ConfigError(`broker URL host ${i + 1} of ${written.length} has no host name`);
    const hostname = h.hostname.toLowerCase(); // as kombu connects (urllib lower-cases it); DNS does not care
    const port = h.port ?? defaultPort;
    if (port < 1 || port > 65535) throw new ConfigError(`broker URL host ${hostname}: port ${port} is out of range`);
    const user = h.username || undefined;
    const pass = h.password || undefined;
    const username = amqp10 ? user : (user ?? 'guest');
    const password = amqp10 ? pass : (pass ?? 'guest');
    return {
      hostname, port, address: `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    };
  });
  const withCreds = raw.hosts.filter((h) => h.username !== null && h.password !== null);
  if (withCreds.length > 0 && withCreds.length < raw.hosts.length) {
    warnings.push(
      `broker URL: some hosts have no user:password (${raw.hosts.filter((h) => !withCreds.includes(h)).map((h) => h.hostname).join(', ')}); ` +
        `they do not borrow another host's: ${amqp10 ? 'they connect without credentials' : 'the missing part is guest'}`,
    );
  }
  return BrokerUrl.parse({
    scheme: s, protocol: amqp10 ? 'amqp10' : 'amqp091', tls, hosts,
    vhost: raw.virtualHost || '/',
    ...(opts.heartbeatS !== undefined ? { heartbeatS: opts.heartbeatS } : {}),
    failover: opts.failover ?? 'round-robin',
    tlsFiles: opts.tlsFiles,
    amqplib: {
      ...(opts.frameMax !== undefined ? { frameMax: opts.frameMax } : {}),
      ...(opts.channelMax !== undefined ? { channelMax: opts.channelMax } : {}),
      ...(opts.locale !== undefined ? { locale: opts.locale } : {}),
    },
    warnings,
    safe: redactUrl(url),
  });
}

/** One host of the URL as a URL of its own, password hidden: what a log line says it connected to. */
export function hostLabel(b: Pick<BrokerUrl, 'scheme' | 'vhost'>, h: BrokerHost): string {
  const user = h.username !== undefined ? `${encodeURIComponent(h.username)}${h.password !== undefined ? ':***' : ''}@` : '';
  return `${b.scheme}://${user}${h.address}/${b.vhost === '/' ? '' : encodeURIComponent(b.vhost)}`;
}

const SECRET_OPTION = /pass|secret|token/i;

/**
 * The URL with every password hidden, whatever the number of hosts: for
 * logs and errors. Works on malformed URLs too (it never throws): what it
 * cannot split is hidden from "//" to the last "@".
 */
export function redactUrl(url: string): string {
  let parts: ReturnType<typeof urlsplit>;
  try {
    parts = urlsplit(url.trim());
  } catch {
    return url.replace(/\/\/.*@/s, '//***@');
  }
  if (parts.netloc === '' && parts.path.includes('@')) return `${parts.scheme}:***`;
  const netloc = parts.netloc.split(',').map(redactEntry).join(',');
  const query = parts.query
    .split('&')
    .map((f) => (SECRET_OPTION.test(f.split('=', 1)[0] ?? '') && f.includes('=') ? `${f.slice(0, f.indexOf('='))}=***` : f))
    .join('&');
  return `${parts.scheme}://${netloc}${parts.path}${query !== '' ? `?${query}` : ''}`;
}

/**
 * A transport_url as oslo.messaging means it → the same URL as hostwall means
 * it: oslo's amqp:// (its AMQP 1.0 driver) becomes amqp10://; rabbit:// and
 * the rest are unchanged. For URLs read from nova.conf and the like.
 */
export function fromOsloTransportUrl(transportUrl: string): string {
  return transportUrl.trim().replace(/^amqp:/i, 'amqp10:');
}

/**
 * The same brokers over AMQP 0-9-1, for what only 0-9-1 can do (declaring
 * topology, reading streams and dead letters): amqp10:// → amqp://,
 * amqps10:// → amqps://, every host and the vhost kept; query options that
 * only oslo's amqp1 driver knows are dropped, idle_timeout becomes heartbeat.
 * A 0-9-1 URL is returned as it is.
 */
export function amqp091UrlOf(url: string): string {
  const b = parseBrokerUrl(url);
  if (b.protocol === 'amqp091') return url.trim();
  const parts = urlsplit(url.trim());
  const query = parts.query
    .split('&')
    .filter((f) => f !== '')
    .map((f) => (f.startsWith('idle_timeout=') ? `heartbeat=${f.slice('idle_timeout='.length)}` : f))
    .filter((f) => {
      const name = f.split('=', 1)[0] ?? '';
      return name in OSLO_RABBIT_OPTIONS || name in AMQPLIB_OPTIONS;
    });
  const scheme = b.scheme === 'amqps10' ? 'amqps' : 'amqp';
  return `${scheme}://${parts.netloc}${parts.path}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}
