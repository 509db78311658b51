/**
 * Instance lifecycle methods → instance intents, and the two read-only calls
 * (console output, host uptime) → the query intents instance.console_output
 * and host.uptime.
 */
import { ConsoleOutput, HostUptime, type IntentKind } from '../../intents';
import {
  GetConsoleOutputArgs, GetHostUptimeArgs, InstanceOnlyArgs, RebootInstanceArgs, StopInstanceArgs, TerminateInstanceArgs,
} from './method-args';
import { decodeNova } from './objects';
import { resultOf } from './replies';
import { adapted, intent, type NovaAdapted, type Translation } from './translation';

/** instance.power_off's ceiling (kinds.ts PowerOffV1.timeout_s). */
const MAX_POWER_OFF_S = 3600;

/**
 * terminate_instance → instance.destroy. Nova deletes the guest's local disks
 * (destroy_disks=True) and then, with Cinder and Neutron, the volume
 * attachments and port bindings; hostwall only does the host's part.
 */
export function translateTerminate(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(TerminateInstanceArgs, raw, t.method);
  const volumes = (args.bdms?.data.objects ?? []).filter((b) => b.data.destination_type === 'volume').length;
  const ignored = volumes ? [`bdms: ${volumes} volume attachment(s) (Nova deletes them in Cinder; the guest's disks go with it)`] : [];
  return adapted([intent('instance.destroy', { instance_uuid: args.instance.data.uuid })], ignored);
}

/**
 * stop_instance → instance.power_off. Nova's timing (manager
 * _get_power_off_values): clean shutdown waits image_os_shutdown_timeout from
 * the instance's system metadata, else CONF.shutdown_timeout (default 60, the
 * intent's default too); clean_shutdown=False powers off at once.
 */
export function translateStop(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(StopInstanceArgs, raw, t.method);
  const ignored: string[] = [];
  let timeout: number | undefined;
  const fromImage = args.instance.data.system_metadata?.image_os_shutdown_timeout;
  if (args.clean_shutdown && fromImage && /^\d{1,9}$/.test(fromImage)) {
    timeout = Math.min(Number(fromImage), MAX_POWER_OFF_S);
    if (Number(fromImage) > MAX_POWER_OFF_S) ignored.push(`image_os_shutdown_timeout above ${MAX_POWER_OFF_S}s`);
  }
  const off = intent('instance.power_off', {
    instance_uuid: args.instance.data.uuid,
    clean: args.clean_shutdown,
    ...(timeout !== undefined ? { timeout_s: timeout } : {}),
  });
  return adapted([off], ignored);
}

type InstanceOnlyKind = Extract<IntentKind, 'instance.power_on' | 'instance.pause' | 'instance.unpause' | 'instance.suspend' | 'instance.resume'>;

/**
 * start/pause/unpause/suspend/resume_instance → the intent of that name.
 * start_instance needs no port wait: Nova's libvirt power_on is a hard reboot
 * with vifs_already_plugged=True (no network-vif-plugged wait by default).
 */
export function translateInstanceOnly(kind: InstanceOnlyKind) {
  return (t: Translation, raw: Record<string, unknown>): NovaAdapted => {
    const args = decodeNova(InstanceOnlyArgs, raw, t.method);
    return adapted([intent(kind, { instance_uuid: args.instance.data.uuid })]);
  };
}

/**
 * reboot_instance → instance.reboot (SOFT → soft, HARD → hard). Nova's API
 * always sends block_device_info=None; the driver rebuilds it, as hostwall's
 * does from the guest it knows.
 */
export function translateReboot(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(RebootInstanceArgs, raw, t.method);
  const ignored = args.block_device_info ? ['block_device_info'] : [];
  const type = args.reboot_type === 'HARD' ? 'hard' : 'soft';
  return adapted([intent('instance.reboot', { instance_uuid: args.instance.data.uuid, type })], ignored);
}

/** get_console_output (call) → instance.console_output; Nova returns the text (ASCII, errors replaced). */
export function translateConsoleOutput(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  const args = decodeNova(GetConsoleOutputArgs, raw, t.method);
  const tail = args.tail_length;
  const query = intent('instance.console_output', {
    instance_uuid: args.instance.data.uuid,
    ...(typeof tail === 'number' ? { tail_length: tail } : {}),
  });
  return adapted([query], [], (results) => resultOf(ConsoleOutput, results, 0, t.method).output);
}

/** get_host_uptime (call) → host.uptime; Nova returns the `uptime` command's line. */
export function translateHostUptime(t: Translation, raw: Record<string, unknown>): NovaAdapted {
  decodeNova(GetHostUptimeArgs, raw, t.method);
  return adapted([intent('host.uptime', {})], [], (results) => resultOf(HostUptime, results, 0, t.method).uptime);
}
