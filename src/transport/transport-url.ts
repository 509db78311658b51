/**
 * oslo.messaging's `TransportURL.parse`, ported line for line (14.0.3, the
 * one Debian ships), with the pieces of Python's urllib it relies on
 * (urlsplit, unquote, parse_qs): the URL as oslo reads it, before any
 * default is applied. test/unit/transport-url.test.ts runs the real
 * TransportURL.parse over a table of URLs and compares.
 *
 *   driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query
 *
 * - hosts are split on ","; empty entries are skipped; each entry keeps its
 *   own credentials (nothing is copied from another entry);
 * - user and password are split at the LAST "@" and the FIRST ":", then
 *   percent-decoded (so a password may hold ":" and "@" as they are);
 * - the virtual host is the path after its first "/", percent-decoded:
 *   null when there is no path, "" for "/" (both mean the default vhost "/"
 *   to the drivers), "/" for "//" or "/%2F";
 * - query values of a repeated key are joined with ","; blank values drop.
 *
 * Where Python would throw (a port that is not a number, unbalanced "[",
 * no scheme) this throws a ConfigError naming the part, never the password.
 * One deliberate difference: Python 3.11's urlsplit refuses an IPv6 host
 * that is not the first of several ("h1,[::1]:5672"); it is accepted here.
 */
import { z } from 'zod';
import { ConfigError } from '../errors';

export const TransportHostParts = z.object({
  hostname: z.string().nullable(),
  port: z.number().int().nullable(),
  username: z.string().nullable(),
  password: z.string().nullable(),
});
export type TransportHostParts = z.infer<typeof TransportHostParts>;

export const TransportUrlParts = z.object({
  transport: z.string(),
  virtualHost: z.string().nullable(),
  hosts: z.array(TransportHostParts),
  query: z.record(z.string(), z.string()),
});
export type TransportUrlParts = z.infer<typeof TransportUrlParts>;

/** The pieces of a URL as Python's urlsplit cuts them (no decoding). */
export interface UrlSplit {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
}

const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/** Python's urlsplit: what oslo hands to its own netloc parsing. */
export function urlsplit(input: string): UrlSplit {
  let start = 0;
  while (start < input.length && input.charCodeAt(start) <= 0x20) start++; // WHATWG C0 control or space
  let url = input.slice(start).replace(/[\t\r\n]/g, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  let netloc = '';
  if (url.startsWith('//')) {
    const rest = url.slice(2);
    const end = rest.search(/[/?#]/);
    netloc = end < 0 ? rest : rest.slice(0, end);
    url = end < 0 ? '' : rest.slice(end);
    if (netloc.includes('[') !== netloc.includes(']')) throw new ConfigError('broker URL: unbalanced "[" or "]" in the host list (Invalid IPv6 URL)');
  }
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  const q = url.indexOf('?');
  const query = q >= 0 ? url.slice(q + 1) : '';
  const path = q >= 0 ? url.slice(0, q) : url;
  return { scheme, netloc, path, query };
}

/** Python's urllib.parse.unquote: %XX runs decoded as UTF-8 (invalid bytes → U+FFFD), stray "%" kept. */
export function unquote(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/** Python's parse_qs then oslo's join: {key: "v1,v2"}, in first-seen order; "+" is a space; blank values drop. */
export function parseQuery(qs: string): Record<string, string> {
  const out = new Map<string, string[]>();
  for (const field of qs.split('&')) {
    const eq = field.indexOf('=');
    if (eq < 0 || eq === field.length - 1) continue;
    const name = unquote(field.slice(0, eq).replace(/\+/g, ' '));
    const value = unquote(field.slice(eq + 1).replace(/\+/g, ' '));
    out.set(name, [...(out.get(name) ?? []), value]);
  }
  return Object.fromEntries([...out].map(([k, v]) => [k, v.join(',')]));
}

/** One comma-separated entry with its password (the text after the first ":" of the user part) hidden. */
export function redactEntry(entry: string): string {
  const at = entry.lastIndexOf('@');
  if (at < 0) return entry;
  const user = entry.slice(0, at);
  const colon = user.indexOf(':');
  return colon < 0 ? entry : `${user.slice(0, colon)}:***${entry.slice(at)}`;
}

function parseHost(entry: string, n: number): TransportHostParts {
  let hostname: string | null = entry;
  let username: string | null = null;
  let password: string | null = null;
  let portText: string | null = null;
  const at = entry.lastIndexOf('@');
  if (at >= 0) {
    let user = entry.slice(0, at);
    hostname = entry.slice(at + 1);
    const colon = user.indexOf(':');
    if (colon >= 0) {
      password = unquote(user.slice(colon + 1));
      user = user.slice(0, colon);
    }
    username = unquote(user);
  }
  const where = `broker URL host ${n} "${redactEntry(entry)}"`;
  if (hostname === '') {
    hostname = null;
  } else if (hostname.startsWith('[')) {
    const close = hostname.indexOf(']');
    if (close < 0) throw new ConfigError(`${where}: "[" without "]" (Invalid IPv6 URL)`);
    const after = hostname.slice(close);
    hostname = hostname.slice(1, close);
    const colon = after.indexOf(':');
    portText = colon >= 0 ? after.slice(colon + 1) : null;
  } else {
    const colon = hostname.indexOf(':');
    if (colon >= 0) {
      portText = hostname.slice(colon + 1);
      hostname = hostname.slice(0, colon);
    }
  }
  if (portText === '') portText = null;
  if (portText !== null && !/^\d+$/.test(portText)) throw new ConfigError(`${where}: port "${portText}" is not a number`);
  return { hostname, port: portText === null ? null : Number(portText), username, password };
}

/** TransportURL.parse: throws ConfigError where oslo raises. */
export function parseTransportUrl(url: string): TransportUrlParts {
  const parts = urlsplit(url);
  if (parts.scheme === '') throw new ConfigError('broker URL: no scheme specified (expected e.g. rabbit://user:pass@host:5672/)');
  const virtualHost = parts.path.startsWith('/') ? unquote(parts.path.slice(1)) : null;
  const hosts: TransportHostParts[] = [];
  parts.netloc.split(',').forEach((entry, i) => {
    if (entry !== '') hosts.push(parseHost(entry, i + 1));
  });
  return { transport: parts.scheme, virtualHost, hosts, query: parseQuery(parts.query) };
}
