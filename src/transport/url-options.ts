/**
 * Query options of a broker URL. oslo.messaging lets the query of a
 * transport_url override its driver's options (ConfigOptsProxy): a name the
 * driver's option group does not have is refused (NoSuchOptError), a value
 * its type cannot convert is refused (ValueError). hostwall does the same
 * with the same option names, acts on the few that concern a connection,
 * and ignores the others with a warning (they tune oslo's own queues,
 * retries and threads, which hostwall configures with its own settings).
 *
 * The tables are oslo.messaging 14.0.3's `[oslo_messaging_rabbit]` and
 * `[oslo_messaging_amqp]` groups; test/unit/transport-url.test.ts checks
 * them against the installed library. amqp:// and amqps:// also take
 * amqplib's own URL options, as they always have in hostwall.
 */
import { ConfigError } from '../errors';

type OptType = 'bool' | 'int' | 'float' | 'str' | readonly string[];

/** oslo_messaging._drivers.impl_rabbit.rabbit_opts: name → type. */
export const OSLO_RABBIT_OPTIONS: Readonly<Record<string, OptType>> = {
  direct_mandatory_flag: 'bool', enable_cancel_on_failover: 'bool', heartbeat_in_pthread: 'bool', heartbeat_rate: 'int',
  heartbeat_timeout_threshold: 'int', kombu_compression: 'str', kombu_failover_strategy: ['round-robin', 'shuffle'],
  kombu_missing_consumer_retry_timeout: 'int', kombu_reconnect_delay: 'float', rabbit_ha_queues: 'bool', rabbit_interval_max: 'int',
  rabbit_login_method: ['PLAIN', 'AMQPLAIN', 'EXTERNAL', 'RABBIT-CR-DEMO'], rabbit_qos_prefetch_count: 'int',
  rabbit_quorum_delivery_limit: 'int', rabbit_quorum_queue: 'bool', rabbit_quroum_max_memory_bytes: 'int',
  rabbit_quroum_max_memory_length: 'int', rabbit_retry_backoff: 'int', rabbit_retry_interval: 'int', rabbit_transient_queues_ttl: 'int',
  ssl: 'bool', ssl_ca_file: 'str', ssl_cert_file: 'str', ssl_enforce_fips_mode: 'bool', ssl_enforce_hostname_verification: 'bool',
  ssl_key_file: 'str', ssl_version: 'str',
};

/** oslo_messaging._drivers.amqp1_driver.opts.amqp1_opts: name → type. */
export const OSLO_AMQP1_OPTIONS: Readonly<Record<string, OptType>> = {
  addressing_mode: 'str', anycast_address: 'str', broadcast_prefix: 'str', connection_retry_backoff: 'int', connection_retry_interval: 'int',
  connection_retry_interval_max: 'int', container_name: 'str', default_notification_exchange: 'str', default_notify_timeout: 'int',
  default_reply_retry: 'int', default_reply_timeout: 'int', default_rpc_exchange: 'str', default_send_timeout: 'int',
  default_sender_link_timeout: 'int', group_request_prefix: 'str', idle_timeout: 'int', link_retry_delay: 'int', multicast_address: 'str',
  notify_address_prefix: 'str', notify_server_credit: 'int', pre_settled: 'str', pseudo_vhost: 'bool', reply_link_credit: 'int',
  rpc_address_prefix: 'str', rpc_server_credit: 'int', sasl_config_dir: 'str', sasl_config_name: 'str', sasl_default_realm: 'str',
  sasl_mechanisms: 'str', server_request_prefix: 'str', ssl: 'bool', ssl_ca_file: 'str', ssl_cert_file: 'str', ssl_key_file: 'str',
  ssl_key_password: 'str', ssl_verify_vhost: 'bool', trace: 'bool', unicast_address: 'str',
};

/** amqplib's URL query options (amqp:// and amqps:// only). */
export const AMQPLIB_OPTIONS: Readonly<Record<string, OptType>> = { heartbeat: 'int', frameMax: 'int', channelMax: 'int', locale: 'str' };

/** What hostwall takes from the query; everything else known is ignored with a warning. */
export interface UrlOptions {
  ssl?: boolean;
  heartbeatS?: number;
  failover?: 'round-robin' | 'shuffle';
  tlsFiles: { ca?: string; cert?: string; key?: string };
  /** amqplib tuning (amqp(s):// only). */
  frameMax?: number;
  channelMax?: number;
  locale?: string;
  warnings: string[];
}

/** oslo.config's Boolean type. */
function toBool(v: string): boolean | undefined {
  const s = v.toLowerCase();
  if (['1', 'on', 'yes', 'true'].includes(s)) return true;
  if (['0', 'off', 'no', 'false'].includes(s)) return false;
  return undefined;
}

function check(name: string, value: string, type: OptType): void {
  const bad = (want: string) => new ConfigError(`broker URL option ${name}=${JSON.stringify(value)}: ${want}`);
  if (type === 'bool' && toBool(value) === undefined) throw bad('not a boolean (true/false, yes/no, on/off, 1/0)');
  if (type === 'int' && !/^\s*[+-]?\d+\s*$/.test(value)) throw bad('not an integer');
  if (type === 'float' && !Number.isFinite(Number(value))) throw bad('not a number');
  if (Array.isArray(type) && !type.includes(value)) throw bad(`must be one of ${type.join(', ')}`);
}

/**
 * Check every query option against the option tables of the URL's family and
 * pick out what hostwall uses. A value is echoed only by the checks of
 * bool, int, float and choice options, never for a string (ssl_key_password).
 */
export function urlOptions(query: Record<string, string>, family: 'rabbit' | 'amqp' | 'amqp10'): UrlOptions {
  const table = { ...(family === 'amqp10' ? OSLO_AMQP1_OPTIONS : OSLO_RABBIT_OPTIONS), ...(family === 'amqp' ? AMQPLIB_OPTIONS : {}) };
  const group = family === 'amqp10' ? 'oslo_messaging_amqp' : 'oslo_messaging_rabbit';
  const out: UrlOptions = { tlsFiles: {}, warnings: [] };
  for (const [name, value] of Object.entries(query)) {
    const type = table[name];
    if (type === undefined) {
      const extra = family === 'amqp' ? ` or amqplib's ${Object.keys(AMQPLIB_OPTIONS).join(', ')}` : '';
      throw new ConfigError(`broker URL option "${name}" is not an option of oslo.messaging's [${group}]${extra}`);
    }
    check(name, value, type);
    const int = () => Number.parseInt(value.trim(), 10);
    switch (name) {
      case 'ssl':
        out.ssl = toBool(value) === true;
        break;
      case 'heartbeat':
      case 'heartbeat_timeout_threshold':
      case 'idle_timeout':
        if (int() < 0) throw new ConfigError(`broker URL option ${name}=${value}: must not be negative`);
        out.heartbeatS = int();
        break;
      case 'kombu_failover_strategy':
        out.failover = value === 'shuffle' ? 'shuffle' : 'round-robin';
        break;
      case 'ssl_ca_file':
        out.tlsFiles.ca = value;
        break;
      case 'ssl_cert_file':
        out.tlsFiles.cert = value;
        break;
      case 'ssl_key_file':
        out.tlsFiles.key = value;
        break;
      case 'frameMax':
        out.frameMax = int();
        break;
      case 'channelMax':
        out.channelMax = int();
        break;
      case 'locale':
        out.locale = value;
        break;
      default:
        out.warnings.push(`broker URL option "${name}" tunes oslo.messaging itself and has no effect in hostwall; ignored`);
    }
  }
  return out;
}
