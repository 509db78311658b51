/**
 * One compiled, validated configuration (Temporal's options → defaults →
 * compiled options). Sources, strongest first: command-line flags, the
 * environment (AMQP_URL, HOSTWALL_*), a JSON file (--config / HOSTWALL_CONFIG),
 * then defaults. A bad value is one line naming the setting and its source.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_BLOCK_DEVICE_DIRS, DEFAULT_HOST_PATH_ALLOW } from './drivers/host-paths';
import { ConfigError } from './errors';
import { parseBrokerUrl, redactUrl } from './transport/broker-url';

/** A broker URL (transport/broker-url.ts), optionally of one protocol; the issue is the parser's one-line reason. */
const brokerUrl = (protocol?: 'amqp091') =>
  z.string().superRefine((v, ctx) => {
    try {
      const b = parseBrokerUrl(v);
      if (protocol && b.protocol !== protocol) ctx.addIssue({ code: 'custom', message: 'must be an AMQP 0-9-1 URL (rabbit://, amqp://, amqps://)' });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  });
/** A boolean as a flag, the environment or a file give it (oslo.config's spellings, any case). */
export const bool = z.union([
  z.boolean(),
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])).transform((v) => ['true', '1', 'yes', 'on'].includes(v)),
]);
/** Python's and oslo.log's level names are accepted too (WARNING, CRITICAL), in any case. */
const LEVEL_ALIASES: Readonly<Record<string, string>> = { warning: 'warn', critical: 'error', fatal: 'error' };
const logLevel = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const l = v.trim().toLowerCase();
  return LEVEL_ALIASES[l] ?? l;
}, z.enum(['error', 'warn', 'info', 'debug']));
/** `[host:]port` of a listening socket; a bare port means 127.0.0.1. */
const listenAddress = z.string().regex(/^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/, 'must be [host:]port, e.g. 127.0.0.1:9464 or 9464').refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A JSON object of string values, given as an object (file) or as JSON text (flag, environment). */
const jsonRecord = <V extends z.ZodType>(value: V) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, z.record(z.string().min(1), value));

/** Absolute directories, given as a list (file), or as JSON array text or comma-separated text (flag, environment). */
const dirList = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return v;
    }
  }
  return t.split(',').map((d) => d.trim()).filter((d) => d !== '');
}, z.array(z.string().regex(/^\/[^\0]*$/, 'must be absolute paths')));

/**
 * Each setting: its schema, its environment variable, and what it costs
 * (help). The environment variable is HOSTWALL_ and the INI key in capitals
 * (AMQP_URL excepted, the name every AMQP tool knows). Optional: `envAlias`
 * (an older name of the variable, still read when the new one is unset),
 * `show` (how a value is shown in errors: passwords hidden),
 * `reload` (a SIGHUP applies a new value to a running worker), `docDefault`
 * (the default as the README and the sample name it, when it depends on the
 * machine). The README's configuration table and `hostwall config sample`
 * are generated from here (config-docs.ts).
 */
export const SETTINGS = {
  host: { env: 'HOSTWALL_HOST', schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/), default: hostname().split('.')[0], docDefault: '<this machine\'s short host name>', help: 'this host\'s name: the oslo server of topic "compute" (queue compute.<host>)' },
  amqpUrl: { env: 'AMQP_URL', schema: brokerUrl(), show: redactUrl, default: 'amqp://guest:guest@127.0.0.1:5672', help: 'broker URL, oslo transport_url syntax: several hosts separated by commas are tried in order (failover), each with its own user:password; the scheme picks the protocol: rabbit://, amqp://, amqps:// are AMQP 0-9-1 (amqplib), amqp10://, amqps10:// AMQP 1.0 (rhea); ?ssl=true is TLS' },
  transport: { env: 'HOSTWALL_TRANSPORT', schema: z.enum(['auto', 'amqp091', 'amqp10']), default: 'auto', help: 'protocol: auto (from the URL scheme), amqp091, or amqp10 (AMQP 1.0 even on an amqp:// URL)' },
  amqp10Addresses: { env: 'HOSTWALL_AMQP10_ADDRESSES', schema: z.enum(['rabbitmq3', 'rabbitmq4', 'generic']), default: 'rabbitmq3', help: 'AMQP 1.0 address forms: rabbitmq3 (/exchange/X/KEY, /amq/queue/Q), rabbitmq4 (/exchanges/X/KEY, /queues/Q), generic (the templates below)' },
  amqp10TargetTemplate: { env: 'HOSTWALL_AMQP10_TARGET_TEMPLATE', envAlias: 'HOSTWALL_AMQP10_TARGET', schema: z.string(), default: '', help: 'generic AMQP 1.0: target address of an exchange publish ("" = {exchange}/{routingKey})' },
  amqp10QueueTargetTemplate: { env: 'HOSTWALL_AMQP10_QUEUE_TARGET_TEMPLATE', envAlias: 'HOSTWALL_AMQP10_QUEUE_TARGET', schema: z.string(), default: '', help: 'generic AMQP 1.0: target address of a publish to a queue ("" = {routingKey})' },
  amqp10SourceTemplate: { env: 'HOSTWALL_AMQP10_SOURCE_TEMPLATE', envAlias: 'HOSTWALL_AMQP10_SOURCE', schema: z.string(), default: '', help: 'generic AMQP 1.0: source address of a queue ("" = {queue})' },
  amqp10AdminUrl: { env: 'HOSTWALL_AMQP10_ADMIN_URL', schema: z.union([z.literal(''), brokerUrl('amqp091')]), show: redactUrl, default: '', help: 'AMQP 0-9-1 URL used to declare topology when the bus is AMQP 1.0 ("" = the same broker over amqp(s)://)' },
  libvirtVirtType: { env: 'HOSTWALL_LIBVIRT_VIRT_TYPE', schema: z.enum(['auto', 'kvm', 'qemu']), default: 'auto', help: 'domain type of qemu:// guests (Nova: [libvirt] virt_type): kvm, qemu (TCG, no hardware acceleration: for hosts whose KVM is missing or, nested, cannot run the guest), auto = kvm when /dev/kvm is usable, else qemu' },
  libvirtUri: { env: 'HOSTWALL_LIBVIRT_URI', schema: z.string().min(1), default: 'test:///default', help: 'libvirt URI; test:///default is in-process and forgets everything when the worker exits' },
  controlExchange: { env: 'HOSTWALL_CONTROL_EXCHANGE', schema: z.string().min(1).max(255), default: 'nova', help: 'oslo control exchange (Nova uses "nova")' },
  topic: { env: 'HOSTWALL_TOPIC', schema: z.string().min(1).max(255), default: 'compute', help: 'oslo RPC topic served' },
  queues: { env: 'HOSTWALL_QUEUES', schema: z.enum(['transient', 'durable', 'quorum']), default: 'transient', help: 'queue durability as oslo declares it: transient (oslo default, lost on broker restart), durable (amqp_durable_queues), quorum (rabbit_quorum_queue)' },
  concurrency: { env: 'HOSTWALL_CONCURRENCY', schema: int(1, 1000), default: 64, help: 'intents changing the host that run at once (oslo.messaging: executor_thread_pool_size=64); an intent holds its slot while the driver works, not while its outcome is committed and published; the libvirt connections bound the calls in flight' },
  maxConcurrentBuilds: { env: 'HOSTWALL_MAX_CONCURRENT_BUILDS', schema: int(1, 1000), default: 10, help: 'spawns that run at once, within --concurrency (Nova: max_concurrent_builds=10); a spawn waiting for its ports holds one, so waiting spawns never take every slot from power operations' },
  prefetch: { env: 'HOSTWALL_PREFETCH', schema: int(1, 65535), default: 200, help: 'unacked intents the broker hands the worker at once; bounds memory and what a crash leaves to redeliver' },
  eventRetryS: { env: 'HOSTWALL_EVENT_RETRY', schema: int(0, 3600), default: 60, help: 'seconds an event or notification the broker did not confirm is published again (after reconnecting) before its intent is left for redelivery, which republishes only the outcome; 0 = no retry' },
  heapGrowthPercent: { env: 'HOSTWALL_HEAP_GROWTH_PERCENT', envAlias: 'HOSTWALL_HEAP_GROWTH', schema: int(0, 1000), default: 100, help: 'how far (%) the JS heap may grow past what a garbage collection left live before the next one; 0 = V8\'s own choice, up to 300 % under load (~40 MB more RSS at full speed, a few % more throughput)' },
  libvirtConnections: { env: 'HOSTWALL_LIBVIRT_CONNECTIONS', schema: int(1, 64), default: 4, help: 'libvirt connections; calls on one connection are serialized' },
  notificationFormat: { env: 'HOSTWALL_NOTIFICATION_FORMAT', schema: z.enum(['versioned', 'unversioned', 'both']), default: 'versioned', help: 'Nova notification_format: versioned (versioned_notifications.*), unversioned (legacy notifications.*), both (twice the publishes)' },
  vifPluggingTimeoutS: { env: 'HOSTWALL_VIF_PLUGGING_TIMEOUT', schema: int(0, 86400), default: 300, help: 'seconds a spawn waits for port.ready of its ports (Nova: vif_plugging_timeout); 0 = do not wait' },
  vifPluggingIsFatal: { env: 'HOSTWALL_VIF_PLUGGING_IS_FATAL', schema: bool, default: true, help: 'fail the spawn when ports are not ready in time (Nova: vif_plugging_is_fatal); false = start anyway' },
  portReadyMemoryS: { env: 'HOSTWALL_PORT_READY_MEMORY', schema: int(1, 86400), default: 600, help: 'seconds a port.ready nobody waits for is remembered' },
  standby: { env: 'HOSTWALL_STANDBY', schema: bool, default: false, help: 'when another worker already serves this host (its queue compute.<host> has a consumer): false = refuse to start (exit 1, QUEUE_TAKEN); true = wait as a standby and take over when it goes away (looks every 5 s)' },
  shutdownTimeoutS: { env: 'HOSTWALL_SHUTDOWN_TIMEOUT', schema: int(1, 3600), default: 30, help: 'on SIGTERM, seconds to let in-flight intents finish before unfinished ones are left to redelivery; then the waits still running (a clean power-off, a hot-unplug, a spawn\'s ports) are cut short and the worker closes within about 10 s more (Nova: graceful_shutdown_timeout)' },
  watchReconcileS: { env: 'HOSTWALL_WATCH_RECONCILE', schema: int(0, 86400), default: 60, help: 'seconds between full listings of the guests that catch state changes whose hypervisor event was missed (~7 ms per 1,000 guests); 0 = events only' },
  watchStopDelayS: { env: 'HOSTWALL_WATCH_STOP_DELAY', schema: int(0, 600), default: 5, help: 'seconds a guest seen stopping is given before it counts as shut down behind our back (a reboot stops it briefly; Nova waits 15)' },
  instancesPath: { env: 'HOSTWALL_INSTANCES_PATH', schema: z.string().min(1), default: '/var/lib/hostwall/instances', help: 'where guest disks live; its filesystem is the inventory\'s disk_gb' },
  imageCachePath: { env: 'HOSTWALL_IMAGE_CACHE_PATH', schema: z.string().regex(/^(\/.*)?$/, 'must be an absolute path or ""'), default: '', help: 'image cache directory (Nova: $instances_path/_base): a root a spawn\'s image.path may lie in, and where a spawn that names only an image id finds the image to copy as its root disk (Nova\'s cache name, the sha1 of the id) on a real hypervisor ("" = <instances-path>/_base)' },
  nfsMountBase: { env: 'HOSTWALL_NFS_MOUNT_BASE', schema: z.string().regex(/^(\/.*)?$/, 'must be an absolute path or ""'), default: '', help: 'where NFS exports are mounted (Nova: [libvirt] nfs_mount_point_base, os-brick\'s <base>/<md5 of export>), a root NFS volumes lie in ("" = <state-path>/mnt, as Nova\'s $state_path/mnt)' },
  hostPathAllow: { env: 'HOSTWALL_HOST_PATH_ALLOW', schema: dirList, default: DEFAULT_HOST_PATH_ALLOW, help: 'more directories (comma-separated or a JSON array) whose regular files and block devices a message may hand a guest as a disk, besides the instances path, the image cache and the NFS mount base; every entry widens what a sender can attach, so list only directories that hold nothing but guest disks' },
  blockDeviceDirs: { env: 'HOSTWALL_BLOCK_DEVICE_DIRS', schema: dirList, default: DEFAULT_BLOCK_DEVICE_DIRS, help: 'directories through which a volume may name a block device (os-brick: by-path for iSCSI, by-id and mapper for FC and multipath); the link is followed, the target must be a block device the host does not mount, swap on or stack on (LVM, dm)' },
  hostPathTimeoutMs: { env: 'HOSTWALL_HOST_PATH_TIMEOUT_MS', schema: int(100, 600_000), default: 5_000, help: 'ms a filesystem call on a path a message named (stat, realpath, a disk header, a console log) may take before the intent fails PATH_TIMEOUT; the call runs on a thread of its own, and one that never returns (a hung NFS mount) keeps that thread (at most 8 such threads, then checks fail at once)' },
  dedupeMemory: { env: 'HOSTWALL_DEDUPE_MEMORY', schema: int(0, 10_000_000), default: 1_000, help: 'answers of reads (instance.get_state, instance.console_output, host.*) kept in memory, so a duplicate delivery gets the same answer; each holds its answer (a console log up to ~100 KiB). Reads are not stored and are run again once forgotten; intents that change the host are answered from the intent store, not from memory' },
  statePath: { env: 'HOSTWALL_STATE_PATH', schema: z.string().min(1), default: '/var/lib/hostwall', help: 'directory of the local intent store (intents-<host>.sqlite, SQLite in WAL mode): must outlive the worker, or duplicates after a restart are applied again' },
  storeRetentionH: { env: 'HOSTWALL_STORE_RETENTION', schema: int(1, 24 * 3650), default: 14 * 24, help: 'hours an intent outcome is kept to answer duplicates and replays; keep it longer than the journal\'s max age, or an old replay is applied again (disk: ~0.5 KB per intent)' },
  journal: { env: 'HOSTWALL_JOURNAL', schema: bool, default: true, help: 'declare the stream hostwall.journal and bind it to the control exchange for <topic> and <topic>.#: every intent routed to a compute queue is recorded (one extra disk write per message on the broker)' },
  journalMaxAge: { env: 'HOSTWALL_JOURNAL_MAX_AGE', schema: z.string().regex(/^\d+[YMDhms]$/, 'must be like 7D, 12h, 30m (Y M D h m s)'), default: '7D', help: 'stream retention by age (x-max-age); every worker must declare the same value, a different one is refused by the broker and logged' },
  journalMaxBytes: { env: 'HOSTWALL_JOURNAL_MAX_BYTES', schema: int(1_000_000, 1e15), default: 5_000_000_000, help: 'stream retention by size (x-max-length-bytes), enforced per 100 MB segment; the broker\'s disk, not the worker\'s' },
  poisonDeliveries: { env: 'HOSTWALL_POISON_DELIVERIES', schema: int(2, 1000), default: 10, help: 'deliveries of one unfinished message (quorum x-delivery-count, or a local count of redeliveries) after which it is dead-lettered as POISON instead of tried again; broker restarts count too, so not too low' },
  maxMessageBytes: { env: 'HOSTWALL_MAX_MESSAGE_BYTES', schema: int(1024, 128 * 1024 * 1024), default: 4 * 1024 * 1024, help: 'larger bodies are refused (OVERSIZE) before parsing; parsing costs ~10x the body in memory' },
  maxJsonDepth: { env: 'HOSTWALL_MAX_JSON_DEPTH', schema: int(4, 1000), default: 64, help: 'deeper nesting in a message is refused (Nova objects nest ~15 levels)' },
  maxArrayLength: { env: 'HOSTWALL_MAX_ARRAY_LENGTH', schema: int(1, 10_000_000), default: 10_000, help: 'longer arrays anywhere in a message are refused (intent schemas bound their own arrays tighter)' },
  issuerMode: { env: 'HOSTWALL_ISSUER_MODE', schema: z.enum(['open', 'verified']), default: 'open', help: 'open: the issuer is not verified (a claimed _context_issuer is trusted, none is admitted for every kind; warned at start); verified: the issuer must be proven by the AMQP user_id (issuerUsers) or an HMAC signature (issuerKeysFile)' },
  issuerUsers: { env: 'HOSTWALL_ISSUER_USERS', schema: jsonRecord(z.enum(['nova', 'cinder', 'neutron', 'operator'])), default: {}, help: 'JSON {"<amqp user>": "nova|cinder|neutron|operator"}: RabbitMQ checks a message\'s user_id against its connection\'s user, so it proves the sender' },
  issuerKeysFile: { env: 'HOSTWALL_ISSUER_KEYS_FILE', schema: z.string(), default: '', help: 'JSON file {"<issuer>": "<secret>"} of HMAC-SHA256 keys for x-hostwall-signature; a file, so keys stay out of argv and the environment' },
  tlsCaFile: { env: 'HOSTWALL_TLS_CA_FILE', envAlias: 'HOSTWALL_TLS_CA', schema: z.string(), default: '', help: 'PEM CA bundle to verify the broker (TLS URLs: amqps://, amqps10://, ?ssl=true; "" = the URL\'s ssl_ca_file, else the system CAs)' },
  tlsCertFile: { env: 'HOSTWALL_TLS_CERT_FILE', envAlias: 'HOSTWALL_TLS_CERT', schema: z.string(), default: '', help: 'PEM client certificate (TLS URLs, for EXTERNAL or mutual TLS; "" = the URL\'s ssl_cert_file)' },
  tlsKeyFile: { env: 'HOSTWALL_TLS_KEY_FILE', envAlias: 'HOSTWALL_TLS_KEY', schema: z.string(), default: '', help: 'PEM private key of the client certificate ("" = the URL\'s ssl_key_file)' },
  logLevel: { env: 'HOSTWALL_LOG_LEVEL', schema: logLevel, default: 'info', reload: true, help: 'log level: error, warn (or warning), info, debug, in any case' },
  debug: { env: 'HOSTWALL_DEBUG', schema: bool, default: false, reload: true, help: 'log at debug level whatever --log-level says (oslo.log\'s debug; a bare --debug is true)' },
  logFormat: { env: 'HOSTWALL_LOG_FORMAT', schema: z.enum(['json', 'pretty', 'auto']), default: 'auto', help: 'json lines, pretty, or auto (pretty on a TTY; colours unless NO_COLOR is set)' },
  logFile: { env: 'HOSTWALL_LOG_FILE', schema: z.string(), default: '', help: 'append the log to this file instead of stderr ("" = stderr; its directory must exist); reopened on SIGHUP, so logrotate may move it away (no copytruncate)' },
  waitLogIntervalS: { env: 'HOSTWALL_WAIT_LOG_INTERVAL', schema: int(0, 3600), default: 10, help: 'seconds between the lines an intent logs while it waits for its lanes or its ports (it also logs when it starts waiting: for ports at info, for a lane at debug); 0 = no repeated lines' },
  httpAddress: { env: 'HOSTWALL_HTTP_ADDRESS', schema: z.union([z.literal(''), listenAddress]), default: '', help: '[host:]port where the worker answers /healthz, /readyz and /metrics (Prometheus) over HTTP ("" = off; a bare port listens on 127.0.0.1 only: there is no authentication, so bind another address only on a trusted network)' },
  novaNotifications: { env: 'HOSTWALL_NOVA_NOTIFICATIONS', schema: bool, default: true, help: 'publish Nova\'s notifications (a nova-compute.conf whose [oslo_messaging_notifications] driver is unset or noop turns them off, as in Nova); native events are always published' },
  novaControlPlane: { env: 'HOSTWALL_NOVA_CONTROL_PLANE', schema: z.enum(['auto', 'on', 'off']), default: 'auto', help: 'be the compute host of a Nova control plane (service record and heartbeat, compute node, Placement, instance state through nova-conductor): auto = on when --config-file gives a nova-compute.conf' },
  novaNodename: { env: 'HOSTWALL_NOVA_NODENAME', schema: z.string().max(255), default: '', help: 'name of the compute node created in Nova ("" = the host name); an existing node of this host is reused whatever its name' },
  deviceDetachTimeoutS: { env: 'HOSTWALL_DEVICE_DETACH_TIMEOUT', schema: int(1, 3600), default: 20, help: 'seconds a hot-unplug waits for the guest to release the device before the outcome says live: false (Nova: [libvirt] device_detach_timeout); a guest that ignores it holds a detach (and its instance\'s lane) that long' },
  novaInstanceNameTemplate: { env: 'HOSTWALL_NOVA_INSTANCE_NAME_TEMPLATE', schema: z.string().min(1).max(255), default: 'instance-%08x', help: 'Nova\'s instance_name_template: how a guest Nova builds is named in libvirt (the name a host that ran nova-compute already gave its guests)' },
  novaWriteRetryS: { env: 'HOSTWALL_NOVA_WRITE_RETRY', schema: int(0, 86_400), default: 300, help: 'seconds a write to Nova\'s database (through nova-conductor) is tried again while the conductor does not answer; the intent\'s lanes wait meanwhile' },
  signatureWindowS: { env: 'HOSTWALL_SIGNATURE_WINDOW', schema: int(10, 86400), default: 300, help: 'seconds either side of the worker\'s clock an x-hostwall-signed-at may be: a signed message re-sent later is refused (hosts\' clocks must agree within it: NTP); copies within it are answered from the intent store' },
  maxPublishBytes: { env: 'HOSTWALL_MAX_PUBLISH_BYTES', schema: int(64 * 1024, 512 * 1024 * 1024), default: 128 * 1024 * 1024, help: 'the broker\'s max message size (RabbitMQ max_message_size: 128 MiB before 4.0, 16 MiB from 4.0); a bigger reply, event or dead letter fails alone before it is sent (AMQP 0-9-1), instead of the broker closing the channel under every publish in flight' },
} as const;

export type SettingName = keyof typeof SETTINGS;
type SettingValue<K extends SettingName> = z.output<(typeof SETTINGS)[K]['schema']>;
/** The settings as written: a duration in the unit its name ends in (S seconds, H hours), as the README documents it. */
export type Settings = { [K in SettingName]: SettingValue<K> };

/** The unit a setting's name ends in, in ms: `shutdownTimeoutS` is seconds, `storeRetentionH` hours. */
const UNIT_MS = { S: 1_000, H: 3_600_000 } as const;
const UNIT_SUFFIX = /(?<=[a-z])([SH])$/;
/** A setting's name in the compiled config: a duration's ends in Ms (`shutdownTimeoutS` → `shutdownTimeoutMs`). */
type CompiledName<K extends string> = K extends `${infer B}S` ? `${B}Ms` : K extends `${infer B}H` ? `${B}Ms` : K;
/** What the code consumes (compileSettings): every duration in milliseconds, converted once, here. */
export type Config = { [K in SettingName as CompiledName<K>]: SettingValue<K> };

/** The key of a setting in the compiled config. */
export function configKey<K extends SettingName>(name: K): CompiledName<K> & keyof Config {
  const unit = UNIT_SUFFIX.exec(name)?.[1];
  // The same rule as the type's: a name ending in S or H after a lowercase letter is a duration.
  return (unit ? `${name.slice(0, -1)}Ms` : name) as CompiledName<K> & keyof Config;
}

/** The compiled config: the settings with every duration in milliseconds. */
export function compileSettings(settings: Settings): Config {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const value = settings[name];
    const unit = UNIT_SUFFIX.exec(name)?.[1] as keyof typeof UNIT_MS | undefined;
    out[configKey(name)] = unit && typeof value === 'number' ? value * UNIT_MS[unit] : value;
  }
  // Every key of Config was written just above, from the setting it compiles.
  return out as Config;
}

export type Source = 'flag' | 'environment' | 'file' | 'layer' | 'default';

/** Settings from a source below the JSON file (an INI file's [hostwall] section, Nova's own keys), strongest first. */
export interface ConfigLayer {
  /** Names the source in errors, e.g. "[hostwall] in /etc/nova/nova-compute.conf". */
  source: string;
  values: Partial<Record<SettingName, unknown>>;
  /** The key each value had in its file, for errors (default: iniKey of the setting). */
  keys?: Partial<Record<SettingName, string>>;
}

export interface ConfigInput {
  flags?: Partial<Record<SettingName, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON file of { settingName: value }. */
  file?: string | undefined;
  /** Below the file, above the defaults, strongest first. */
  layers?: readonly ConfigLayer[];
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${path}: must be a JSON object`);
  const rec = parsed as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (!(key in SETTINGS)) throw new ConfigError(`config file ${path}: unknown setting "${key}" (known: ${Object.keys(SETTINGS).join(', ')})`);
  }
  return rec;
}

/** The compiled config (durations in ms) from flags, the environment, a file, layers and defaults. */
export function loadConfig(input: ConfigInput = {}): Config {
  return compileSettings(loadSettings(input));
}

/** The settings as written (durations in their documented units), validated. */
export function loadSettings(input: ConfigInput = {}): Settings {
  const env = input.env ?? process.env;
  const filePath = input.file ?? env.HOSTWALL_CONFIG;
  const fromFile = filePath ? readFile(filePath) : {};
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const s = SETTINGS[name];
    const flag = input.flags?.[name];
    const alias = 'envAlias' in s ? s.envAlias : undefined;
    const envName = env[s.env] === undefined && alias !== undefined && env[alias] !== undefined ? alias : s.env;
    const envVal = env[envName];
    let raw: unknown;
    let source: Source;
    const layer = input.layers?.find((l) => l.values[name] !== undefined);
    if (flag !== undefined) [raw, source] = [flag, 'flag'];
    else if (envVal !== undefined && envVal !== '') [raw, source] = [envVal, 'environment'];
    else if (fromFile[name] !== undefined) [raw, source] = [fromFile[name], 'file'];
    else if (layer) [raw, source] = [layer.values[name], 'layer'];
    else [raw, source] = [s.default, 'default'];
    const r = (s.schema as z.ZodType).safeParse(raw);
    if (!r.success) {
      const where = source === 'flag' ? `--${kebab(name)}` : source === 'environment' ? envName : source === 'file' ? `"${name}" in ${filePath}` : source === 'layer' ? `${layer?.keys?.[name] ?? iniKey(name)} (${layer?.source})` : name;
      const why = r.error.issues[0]?.message ?? 'invalid';
      const shown = 'show' in s && typeof raw === 'string' ? s.show(raw) : raw;
      throw new ConfigError(`invalid setting ${where}: ${why} (got ${JSON.stringify(shown)})`);
    }
    out[name] = r.data;
  }
  // Every setting was parsed by its own schema just above.
  return out as Settings;
}

/** The command-line flag of a setting: `vifPluggingTimeoutS` → `vif-plugging-timeout` (a unit suffix S/H is dropped, as in the environment name). */
export function kebab(name: string): string {
  return name.replace(/(?<=[a-z])[SH]$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The key of a setting in an INI file's [hostwall] section: `vifPluggingTimeoutS` → `vif_plugging_timeout`. */
export function iniKey(name: string): string {
  return kebab(name).replace(/-/g, '_');
}

/** The key commander gives that flag's value (`--vif-plugging-timeout` → `vifPluggingTimeout`). */
export function flagKey(name: string): string {
  return kebab(name).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The URL with every password hidden, for logs (re-exported: transport/broker-url.ts). */
export { redactUrl };
