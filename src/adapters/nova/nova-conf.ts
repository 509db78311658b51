/**
 * A compute node's own nova-compute.conf (oslo.config INI, read by
 * oslo/config-files.ts) as hostwall's settings, so that an operator can stop
 * nova-compute and start `hostwall worker --config-file` with the same file.
 *
 * Three things come out of the files:
 * - `[hostwall]`: hostwall's own settings by their INI names
 *   (`issuer_mode`, `vif_plugging_timeout`... see config.ts iniKey); an
 *   unknown key there is an error, as a typo must not pass silently;
 * - Nova's keys hostwall honours (NOVA_KEYS below), mapped onto hostwall's
 *   settings, the compute host's settings and the Placement client's;
 * - every other key, listed (section.key) so the worker can say in one line
 *   what it ignores (compute_driver, [database], [libvirt] virt_type...).
 *
 * Precedence (config.ts): flags > environment > JSON file > [hostwall] >
 * Nova's keys > defaults. Where Nova and hostwall name the same thing
 * (state_path), Nova's key applies unless [hostwall] says otherwise.
 */
import { hostname } from 'node:os';
import { type ConfigLayer, iniKey, SETTINGS, type SettingName } from '../../config';
import { ConfigError } from '../../errors';
import { DEFAULT_SECTION, type IniConfig, iniSection, iniValue } from '../../oslo/config-files';
import { fromOsloTransportUrl } from '../../transport/broker-url';
import type { ComputeHostSettingsInput } from './compute-host/settings';

/** Nova's own defaults that `$name` references in nova.conf may use (nova/conf/paths.py, netconf.py). */
function novaDefaults(ini: IniConfig): Record<string, string> {
  return { state_path: '/var/lib/nova', pybasedir: '/usr/lib/python3/dist-packages/nova', bindir: '/usr/local/bin', host: hostname(), my_ip: ini.sections.get(DEFAULT_SECTION)?.get('my_ip') ?? '127.0.0.1' };
}

const truthy = (v: string): boolean => ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase());

/** Nova's keys that become hostwall settings: [section, key, setting, convert]. */
const TO_SETTINGS: readonly [string, string, SettingName, ((v: string) => unknown)?][] = [
  [DEFAULT_SECTION, 'host', 'host'],
  [DEFAULT_SECTION, 'transport_url', 'amqpUrl', fromOsloTransportUrl],
  [DEFAULT_SECTION, 'control_exchange', 'controlExchange'],
  [DEFAULT_SECTION, 'state_path', 'statePath'],
  [DEFAULT_SECTION, 'instances_path', 'instancesPath'],
  [DEFAULT_SECTION, 'max_concurrent_builds', 'maxConcurrentBuilds'],
  [DEFAULT_SECTION, 'vif_plugging_timeout', 'vifPluggingTimeoutS'],
  [DEFAULT_SECTION, 'vif_plugging_is_fatal', 'vifPluggingIsFatal'],
  [DEFAULT_SECTION, 'graceful_shutdown_timeout', 'shutdownTimeoutS'],
  [DEFAULT_SECTION, 'executor_thread_pool_size', 'concurrency'],
  [DEFAULT_SECTION, 'instance_name_template', 'novaInstanceNameTemplate'],
  // oslo.log's: a nova.conf with debug = True makes hostwall log at debug too (its log_file stays nova-compute's).
  [DEFAULT_SECTION, 'debug', 'debug'],
  ['notifications', 'notification_format', 'notificationFormat'],
  ['libvirt', 'connection_uri', 'libvirtUri'],
  ['libvirt', 'virt_type', 'libvirtVirtType'],
  ['libvirt', 'nfs_mount_point_base', 'nfsMountBase'],
  ['libvirt', 'device_detach_timeout', 'deviceDetachTimeoutS'],
  ['oslo_messaging_rabbit', 'ssl_ca_file', 'tlsCaFile'],
  ['oslo_messaging_rabbit', 'ssl_cert_file', 'tlsCertFile'],
  ['oslo_messaging_rabbit', 'ssl_key_file', 'tlsKeyFile'],
];

/** Nova's keys of the compute host's own settings (compute-host/settings.ts): [section, key, field, number?]. */
const TO_COMPUTE_HOST: readonly [string, string, keyof ComputeHostSettingsInput][] = [
  [DEFAULT_SECTION, 'my_ip', 'myIp'],
  [DEFAULT_SECTION, 'report_interval', 'reportIntervalS'],
  [DEFAULT_SECTION, 'rpc_response_timeout', 'rpcResponseTimeoutS'],
  ['conductor', 'topic', 'conductorTopic'],
  [DEFAULT_SECTION, 'sync_power_state_interval', 'syncPowerStateIntervalS'],
  [DEFAULT_SECTION, 'update_resources_interval', 'updateResourcesIntervalS'],
  [DEFAULT_SECTION, 'scheduler_instance_sync_interval', 'schedulerInstanceSyncIntervalS'],
  [DEFAULT_SECTION, 'cpu_allocation_ratio', 'cpuAllocationRatio'],
  [DEFAULT_SECTION, 'ram_allocation_ratio', 'ramAllocationRatio'],
  [DEFAULT_SECTION, 'disk_allocation_ratio', 'diskAllocationRatio'],
  [DEFAULT_SECTION, 'initial_cpu_allocation_ratio', 'initialCpuAllocationRatio'],
  [DEFAULT_SECTION, 'initial_ram_allocation_ratio', 'initialRamAllocationRatio'],
  [DEFAULT_SECTION, 'initial_disk_allocation_ratio', 'initialDiskAllocationRatio'],
  [DEFAULT_SECTION, 'reserved_host_memory_mb', 'reservedHostMemoryMb'],
  [DEFAULT_SECTION, 'reserved_host_disk_mb', 'reservedHostDiskMb'],
  [DEFAULT_SECTION, 'reserved_host_cpus', 'reservedHostCpus'],
];

/** Where a compute host setting comes from in nova.conf, for errors: `reportIntervalS` → `report_interval in [DEFAULT]`. */
export function novaKeyOf(field: string): string | undefined {
  const found = TO_COMPUTE_HOST.find(([, , f]) => f === field);
  return found ? `${found[1]} in [${found[0]}]` : undefined;
}

/** Nova keys read by other means (below) or that say nothing hostwall must act on. */
const READ_ELSEWHERE = new Set([
  'oslo_messaging_notifications.driver', 'oslo_messaging_rabbit.rabbit_quorum_queue', 'oslo_messaging_rabbit.amqp_durable_queues',
  'oslo_messaging_rabbit.ssl',
]);

export interface NovaConf {
  /** Strongest first: [hostwall], then Nova's keys. */
  layers: ConfigLayer[];
  /** The compute host's settings found (numbers parsed), to validate with ComputeHostSettings. */
  computeHost: Partial<Record<keyof ComputeHostSettingsInput, unknown>>;
  /** The [placement] section as it is (the Placement client reads its keystoneauth keys). */
  placement: Record<string, string>;
  /** `section.key` of every key hostwall does not use. */
  ignored: string[];
  /** Whether the files look like a compute node's Nova config (a [DEFAULT] transport_url or a [placement] section). */
  isNovaConfig: boolean;
}

function numberOf(v: string, where: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${where}: not a number (got ${JSON.stringify(v)})`);
  return n;
}

export function readNovaConf(ini: IniConfig): NovaConf {
  const defaults = novaDefaults(ini);
  const get = (section: string, key: string) => iniValue(ini, section, key, defaults);
  const where = (section: string, key: string) => `${key} in [${section}] of ${ini.origin.get(`${section}.${key}`) ?? 'the config'}`;
  const used = new Set<string>(READ_ELSEWHERE);

  // [hostwall]: hostwall's own settings by INI name.
  const byIniKey = new Map((Object.keys(SETTINGS) as SettingName[]).map((n) => [iniKey(n), n]));
  const own: Partial<Record<SettingName, unknown>> = {};
  for (const [key] of ini.sections.get('hostwall') ?? []) {
    const name = byIniKey.get(key);
    if (!name) throw new ConfigError(`unknown setting ${key} in [hostwall] of ${ini.origin.get(`hostwall.${key}`) ?? 'the config'} (known: ${[...byIniKey.keys()].join(', ')})`);
    own[name] = get('hostwall', key);
  }

  // Nova's keys that are hostwall settings.
  const nova: Partial<Record<SettingName, unknown>> = {};
  const keys: Partial<Record<SettingName, string>> = {};
  for (const [section, key, name, convert] of TO_SETTINGS) {
    const v = get(section, key);
    if (v === undefined) continue;
    used.add(`${section}.${key}`);
    nova[name] = convert ? convert(v) : v;
    keys[name] = `${key} in [${section}]`;
  }
  const rabbit = (k: string) => get('oslo_messaging_rabbit', k);
  if (truthy(rabbit('rabbit_quorum_queue') ?? '')) nova.queues = 'quorum';
  else if (truthy(rabbit('amqp_durable_queues') ?? '')) nova.queues = 'durable';
  // [oslo_messaging_rabbit] ssl is the group default a rabbit:// URL's own ?ssl= would override (port kept, as oslo keeps it).
  if (truthy(rabbit('ssl') ?? '') && typeof nova.amqpUrl === 'string' && /^rabbit:/i.test(nova.amqpUrl) && !/[?&]ssl=/i.test(nova.amqpUrl)) {
    nova.amqpUrl = `${nova.amqpUrl}${nova.amqpUrl.includes('?') ? '&' : '?'}ssl=true`;
  }
  // oslo: no notification driver (the default) or noop sends nothing; Nova's notifications follow.
  const drivers = (get('oslo_messaging_notifications', 'driver') ?? '').split(/[\s,]+/).filter((d) => d && d !== 'noop');
  nova.novaNotifications = drivers.length > 0;
  keys.novaNotifications = 'driver in [oslo_messaging_notifications]';
  // nova-compute's default notification format is Zed's ("unversioned"), not hostwall's own default.
  nova.notificationFormat ??= 'unversioned';

  const computeHost: Partial<Record<keyof ComputeHostSettingsInput, unknown>> = {};
  for (const [section, key, field] of TO_COMPUTE_HOST) {
    const v = get(section, key);
    if (v === undefined) continue;
    used.add(`${section}.${key}`);
    computeHost[field] = field === 'myIp' || field === 'conductorTopic' ? v : numberOf(v, where(section, key));
  }

  const placement = iniSection(ini, 'placement', defaults);
  for (const k of Object.keys(placement)) used.add(`placement.${k}`);

  const ignored: string[] = [];
  for (const [section, entries] of ini.sections) {
    if (section === 'hostwall') continue;
    for (const key of entries.keys()) if (!used.has(`${section}.${key}`)) ignored.push(`${section}.${key}`);
  }
  const isNovaConfig = get(DEFAULT_SECTION, 'transport_url') !== undefined || ini.sections.has('placement');
  const source = ini.files.join(', ');
  return {
    layers: [
      { source: `[hostwall] in ${source}`, values: own },
      ...(isNovaConfig ? [{ source, values: nova, keys }] : []),
    ],
    computeHost,
    placement,
    ignored,
    isNovaConfig,
  };
}
