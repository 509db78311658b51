/**
 * The libvirt driver from the worker's compiled configuration, in one place
 * for every command that opens a driver (worker, demo, tests).
 */
import * as path from 'node:path';
import type { Config } from '../../config';
import type { Logger } from '../../log';
import { type LibvirtDriver, type LibvirtDriverOptions, openLibvirtDriver } from './driver';

/** Open the driver the config describes; `overrides`: options the config does not carry (tests). */
export function openConfiguredDriver(config: Config, log?: Logger, overrides: Partial<LibvirtDriverOptions> = {}): Promise<LibvirtDriver> {
  return openLibvirtDriver({ ...libvirtDriverOptions(config, log), ...overrides });
}

export function libvirtDriverOptions(config: Config, log?: Logger): LibvirtDriverOptions {
  return {
    uri: config.libvirtUri,
    virtType: config.libvirtVirtType,
    connections: config.libvirtConnections,
    instancesPath: config.instancesPath,
    imageCachePath: config.imageCachePath || undefined,
    // Nova's [libvirt] nfs_mount_point_base defaults to $state_path/mnt.
    nfsMountBase: config.nfsMountBase || path.join(config.statePath, 'mnt'),
    hostPathAllow: config.hostPathAllow,
    blockDeviceDirs: config.blockDeviceDirs,
    hostPathTimeoutMs: config.hostPathTimeoutMs,
    deviceDetachTimeoutMs: config.deviceDetachTimeoutMs,
    watchReconcileMs: config.watchReconcileMs,
    watchStopDelayMs: config.watchStopDelayMs,
    ...(log
      ? {
          onReadyChange: (ready: boolean, why: string) => {
            if (ready) log.info('libvirt reachable again: driver ready', { libvirt_uri: config.libvirtUri, why });
            else log.warn('libvirt unreachable: driver not ready, intents fail HYPERVISOR_UNAVAILABLE until it reconnects', { libvirt_uri: config.libvirtUri, why });
          },
        }
      : {}),
  };
}
