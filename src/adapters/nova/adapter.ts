/**
 * Nova's compute RPC API (nova.compute.rpcapi.ComputeAPI, topic `compute`,
 * server `<host>`, exchange `nova`, no namespace) translated at the wall into
 * hostwall intents.
 *
 * Order of checks, as oslo's dispatcher and a Zed nova-compute do them:
 * version first (UnsupportedVersion), then the method (NoSuchMethod), then the
 * arguments (INVALID_INTENT naming the field, or UNSUPPORTED_VERSION for an
 * object of a major hostwall does not read). Every intent is validated by the
 * same schemas as a native intent, so it carries the same lock keys.
 *
 * A method hostwall cannot serve yet is refused as UNKNOWN_KIND: a call gets a
 * NoSuchMethod failure naming it, a cast is dead-lettered with that reason.
 */
import { RejectedError } from '../../errors';
import type { NovaLookups } from './facts';
import { checkNovaRpcVersion } from './rpc-version';
import {
  translateAttachInterface, translateAttachVolume, translateDetachInterface, translateDetachVolume,
  translateReserveBlockDeviceName,
} from './translate-devices';
import { translateExternalInstanceEvent } from './translate-events';
import {
  translateConsoleOutput, translateHostUptime, translateInstanceOnly, translateReboot, translateStop, translateTerminate,
} from './translate-instance';
import { translateBuildAndRunInstance } from './translate-spawn';
import type { NovaAdapted, NovaRequest, Translation } from './translation';

type Translator = (t: Translation, args: Record<string, unknown>) => NovaAdapted;

const TRANSLATORS: Readonly<Record<string, Translator>> = {
  build_and_run_instance: translateBuildAndRunInstance,
  terminate_instance: translateTerminate,
  stop_instance: translateStop,
  start_instance: translateInstanceOnly('instance.power_on'),
  reboot_instance: translateReboot,
  pause_instance: translateInstanceOnly('instance.pause'),
  unpause_instance: translateInstanceOnly('instance.unpause'),
  suspend_instance: translateInstanceOnly('instance.suspend'),
  resume_instance: translateInstanceOnly('instance.resume'),
  attach_volume: translateAttachVolume,
  detach_volume: translateDetachVolume,
  reserve_block_device_name: translateReserveBlockDeviceName,
  attach_interface: translateAttachInterface,
  detach_interface: translateDetachInterface,
  external_instance_event: translateExternalInstanceEvent,
  get_console_output: translateConsoleOutput,
  get_host_uptime: translateHostUptime,
};

/** The Nova compute RPC methods hostwall serves. */
export const NOVA_METHODS: readonly string[] = Object.keys(TRANSLATORS);

export function isNovaMethodSupported(method: string): boolean {
  return Object.hasOwn(TRANSLATORS, method);
}

/**
 * Translate one Nova compute RPC request into intents (and, for a call, the
 * reply Nova expects). Throws RejectedError; never has an effect itself.
 */
export function adaptNovaRequest(req: NovaRequest, facts: NovaLookups = {}): NovaAdapted {
  checkNovaRpcVersion(req.method, req.version);
  const translate = isNovaMethodSupported(req.method) ? TRANSLATORS[req.method] : undefined;
  if (!translate) {
    throw new RejectedError('UNKNOWN_KIND', `Nova compute RPC method ${req.method} is not supported by hostwall yet`, {
      method: req.method,
    });
  }
  return translate({ method: req.method, facts, uniqueId: req.uniqueId }, req.args);
}
