/**
 * Why a connection attempt failed, in one short line an operator can act on:
 * the broker's own refusal (ACCESS_REFUSED, NOT_ALLOWED) or the network's
 * (connection refused, host not found, no answer), never a stack trace and
 * never a password. Both transports use it, for their logs and for the error
 * a command fails with.
 */

import { HostwallError } from '../errors';

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens on that port)',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'host name lookup failed (DNS, EAI_AGAIN)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the peer (a TLS port spoken to without TLS, or the reverse?)',
  EPIPE: 'connection closed by the peer during the handshake',
  ETIMEDOUT: 'no answer in time',
};

function codeOf(err: unknown): string | undefined {
  // A HostwallError's code is ours (TRANSPORT_ERROR), not the network's: its message may still carry one.
  if (!(err instanceof HostwallError) && typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  const text = err instanceof Error ? err.message : String(err);
  return /\b(E[A-Z]{4,}|EAI_[A-Z]+)\b/.exec(text)?.[1];
}

/** A short reason for a failed connection attempt (AMQP 0-9-1 or 1.0). */
export function describeConnectError(err: unknown, vhost: string): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  // amqplib: 'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused …"'
  const refused = /with message "([^"]*)"/.exec(text)?.[1]?.replace(/\.? ?For details see the broker logfile\.?/, '');
  if (refused) return /ACCESS_REFUSED/.test(refused) ? `${refused} (check the user and password)` : refused;
  // amqplib drops the reply text of a connection.close that answers connection.open; RabbitMQ sends it for a vhost it refuses.
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(text)) {
    return `NOT_ALLOWED - the broker refused the virtual host "${vhost}" (it does not exist, or the user has no permission on it)`;
  }
  const code = codeOf(err);
  if (code && NETWORK[code]) return NETWORK[code];
  if (/SSL|TLS|certificate|CERT_|self.signed/i.test(text)) return `TLS: ${text.replace(/^[0-9A-F]+:error:[0-9A-F]+:/, '')}`;
  return text === '' ? 'unknown error' : text;
}
