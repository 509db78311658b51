/**
 * Whether `hostwall worker` is a Nova compute host, and the companion that
 * makes it one (adapters/nova/compute-host), from the settings and the
 * nova-compute.conf the operator gave.
 */
import { networkInterfaces } from 'node:os';
import { ComputeHost } from '../adapters/nova/compute-host/compute-host';
import { ComputeHostSettings } from '../adapters/nova/compute-host/settings';
import { type NovaConf, novaKeyOf } from '../adapters/nova/nova-conf';
import { PlacementClient, placementSettingsFromIni } from '../adapters/nova/placement';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import type { Logger } from '../log';
import { openTransport } from '../worker/connect';

/** Nova's my_ip default (oslo netutils.get_my_ipv4): the first non-loopback IPv4 address. */
function firstIpv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function wantsComputeHost(config: Config, nova: NovaConf | undefined): boolean {
  if (config.novaControlPlane === 'on') return true;
  return config.novaControlPlane === 'auto' && nova?.isNovaConfig === true;
}

export function openComputeHost(config: Config, nova: NovaConf | undefined, log: Logger): ComputeHost {
  const parsed = ComputeHostSettings.safeParse({
    ...(nova?.computeHost ?? {}),
    host: config.host,
    nodename: config.novaNodename || config.host,
    myIp: nova?.computeHost.myIp ?? firstIpv4(),
    // The compute host's settings are nova.conf's, in its seconds (adapters/nova/compute-host/settings.ts).
    writeRetryS: config.novaWriteRetryMs / 1000,
  });
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const field = String(i?.path[0] ?? '');
    throw new ConfigError(`invalid setting ${novaKeyOf(field) ?? field}${nova ? ` (${nova.layers[0]?.source.replace(/^\[hostwall\] in /, '') ?? ''})` : ''}: ${i?.message ?? 'invalid'}`);
  }
  if (!nova || Object.keys(nova.placement).length === 0) {
    throw new ConfigError('the Nova compute host needs a [placement] section (auth_type and its keys, as nova-compute.conf has it): give the file with --config-file');
  }
  const placement = placementSettingsFromIni(nova.placement);
  if (placement.ignored.length > 0) log.info('[placement] keys hostwall does not use', { keys: placement.ignored });
  return new ComputeHost({
    settings: parsed.data,
    transport: openTransport(config, { connectionName: `hostwall-nova:${config.host}:${process.pid}`, log }),
    controlExchange: config.controlExchange,
    placement: new PlacementClient(placement.settings, log),
    log,
  });
}
