/**
 * The hypervisor seen from the worker. One implementation per hypervisor
 * family (libvirt/ is the real one). A driver knows nothing of AMQP, intents'
 * envelopes or events: it changes the host and reports the guest's real state.
 *
 * Contract for every method:
 * - resolves only when the hypervisor has done the work (or definitively
 *   refused it), so the caller may publish the outcome;
 * - rejects with IntentFailure (LibvirtError for libvirt's refusals), never a
 *   bare Error; INSTANCE_NOT_FOUND when the guest does not exist; or with
 *   StoppingError when its StopSignal cut a wait short (not an outcome);
 * - never blocks the event loop.
 */
import type { HostwallError } from '../errors';
import type { ConnectionInfo, Port, SpawnArgs } from '../intents';
import type { HostInventory, PowerState } from '../intents';

export interface GuestState {
  instance_uuid: string;
  name: string;
  power_state: PowerState;
}

export interface DeviceChange {
  /** true when the running guest got the device now (hot-plug); false when only its persistent definition changed. */
  live: boolean;
  /** The guest target device (vdb, tapXXXXXXXXXXX). */
  device: string;
}

export interface SpawnOptions {
  /** Define and start the guest paused (it waits for its ports); resume() releases it. */
  startPaused: boolean;
}

/**
 * A guest whose power state changed without a driver call explaining it (a
 * crash, a shutdown from inside, an operator's virsh), as Nova's lifecycle
 * events and power-state sync see it.
 */
export interface GuestChange extends GuestState {
  /** false when the hypervisor no longer knows the guest; power_state is then 'pending' (Nova's NOSTATE). */
  exists: boolean;
  /**
   * What showed it: the hypervisor's event (libvirt: `<event>:<detail>`, e.g.
   * `stopped:destroyed`), `reconcile` (the periodic listing, or a check after
   * a failed driver call) or `reconnect` (the first listing after the watch
   * lost and regained the hypervisor). For logs; do not branch on it.
   */
  reason: string;
}

export interface GuestWatch {
  /**
   * Every guest as the watch's starting point (not reported as changes);
   * rejects if the first attempt to watch failed (the watch keeps trying
   * until stopped, reporting through onError).
   */
  ready: Promise<GuestState[]>;
  /** Ends the watch; no listener call after it resolves. Idempotent. */
  stop(): Promise<void>;
}

export interface WatchHooks {
  /** The watch's own trouble (hypervisor connection lost, a listing failed, the listener threw). It keeps going. */
  onError?: (err: HostwallError) => void;
}

/**
 * For the calls that wait on the guest (a clean power-off, a hot-unplug):
 * aborted when the worker stops and its grace period is over, the wait ends
 * at once and the call rejects with StoppingError (stop-signal.ts). What the
 * call asked of the guest may still happen; the caller records nothing.
 */
export interface StopSignal {
  signal?: AbortSignal | undefined;
}

export interface Driver {
  readonly name: string;
  /** Define and start. INSTANCE_EXISTS if a guest with that uuid is already defined. */
  spawn(spec: SpawnArgs, opts: SpawnOptions): Promise<GuestState>;
  /** Stop and undefine; `existed: false` if there was nothing (idempotent). */
  destroy(uuid: string, opts: { keepDisks: boolean }): Promise<{ existed: boolean }>;
  powerOn(uuid: string): Promise<GuestState>;
  /** clean: ask the guest (ACPI) and wait up to timeoutS, then force. */
  powerOff(uuid: string, opts: { clean: boolean; timeoutS: number } & StopSignal): Promise<GuestState & { forced: boolean }>;
  reboot(uuid: string, type: 'soft' | 'hard'): Promise<GuestState>;
  pause(uuid: string): Promise<GuestState>;
  unpause(uuid: string): Promise<GuestState>;
  /** Managed save (as Nova's libvirt driver suspends). */
  suspend(uuid: string): Promise<GuestState>;
  /** Restore a managed save. */
  resume(uuid: string): Promise<GuestState>;
  attachVolume(uuid: string, vol: { volume_id: string; connection_info: ConnectionInfo; device_name?: string | undefined }): Promise<DeviceChange>;
  detachVolume(uuid: string, volumeId: string, opts?: StopSignal): Promise<DeviceChange>;
  plugPort(uuid: string, port: Port): Promise<DeviceChange>;
  unplugPort(uuid: string, portId: string, opts?: StopSignal): Promise<DeviceChange>;
  getState(uuid: string): Promise<GuestState>;
  /** Every guest the hypervisor knows (for inventory and reconciliation). */
  listGuests(): Promise<GuestState[]>;
  inventory(): Promise<HostInventory>;
  close(): Promise<void>;

  // Optional: a driver without them answers NOT_SUPPORTED for the intents that need them.

  /**
   * Report guest power-state changes nobody asked this driver for. Changes a
   * driver call made are not reported: the call's own result says them.
   */
  watch?(listener: (change: GuestChange) => void, hooks?: WatchHooks): GuestWatch;
  /** The guest's console log as Nova's get_console_output returns it (last 100 KiB, then the last tailLength lines, ASCII). */
  consoleOutput?(uuid: string, tailLength?: number): Promise<string>;
  /**
   * Tell the running guest that an attached volume grew (Cinder extended it).
   * newSizeBytes absent: read from the host device. `live: false` when the
   * guest is not running (it sees the size at next start). DEVICE_NOT_FOUND
   * if the volume is not attached.
   */
  extendVolume?(uuid: string, volumeId: string, newSizeBytes?: number): Promise<DeviceChange>;
  /**
   * The volumes this driver recorded in the guest itself, by device name
   * (libvirt: hostwall's facts in the guest's metadata, which survive
   * restarts); undefined for a guest without such a record. A driver without
   * it leaves device names to what the worker saw since it started
   * (dispatch/volume-devices.ts).
   */
  guestFacts?(uuid: string): Promise<{ volumes: readonly { device: string }[] } | undefined>;
  /** The host's `uptime` line, as Nova's get_host_uptime returns it (`env LANG=C uptime` stdout). */
  hostUptime?(): Promise<string>;
  /**
   * Whether the hypervisor can be reached now. false while the driver lost
   * it and is reconnecting: calls then fail HYPERVISOR_UNAVAILABLE at once
   * (retryable) rather than hang. A driver without it is always ready.
   */
  ready?(): boolean;
}
