/**
 * The hypervisor seen from the worker. One implementation per hypervisor
 * family (libvirt/ is the real one). A driver knows nothing of AMQP, intents'
 * envelopes or events: it changes the host and reports the guest's real state.
 *
 * Contract for every method:
 * - resolves only when the hypervisor has done the work (or definitively
 *   refused it), so the caller may publish the outcome;
 * - rejects with IntentFailure (LibvirtError for libvirt's refusals), never a
 *   bare Error; INSTANCE_NOT_FOUND when the guest does not exist;
 * - never blocks the event loop.
 */
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

export interface Driver {
  readonly name: string;
  /** Define and start. INSTANCE_EXISTS if a guest with that uuid is already defined. */
  spawn(spec: SpawnArgs, opts: SpawnOptions): Promise<GuestState>;
  /** Stop and undefine; `existed: false` if there was nothing (idempotent). */
  destroy(uuid: string, opts: { keepDisks: boolean }): Promise<{ existed: boolean }>;
  powerOn(uuid: string): Promise<GuestState>;
  /** clean: ask the guest (ACPI) and wait up to timeoutS, then force. */
  powerOff(uuid: string, opts: { clean: boolean; timeoutS: number }): Promise<GuestState & { forced: boolean }>;
  reboot(uuid: string, type: 'soft' | 'hard'): Promise<GuestState>;
  pause(uuid: string): Promise<GuestState>;
  unpause(uuid: string): Promise<GuestState>;
  /** Managed save (as Nova's libvirt driver suspends). */
  suspend(uuid: string): Promise<GuestState>;
  /** Restore a managed save. */
  resume(uuid: string): Promise<GuestState>;
  attachVolume(uuid: string, vol: { volume_id: string; connection_info: ConnectionInfo; device_name?: string | undefined }): Promise<DeviceChange>;
  detachVolume(uuid: string, volumeId: string): Promise<DeviceChange>;
  plugPort(uuid: string, port: Port): Promise<DeviceChange>;
  unplugPort(uuid: string, portId: string): Promise<DeviceChange>;
  getState(uuid: string): Promise<GuestState>;
  /** Every guest the hypervisor knows (for inventory and reconciliation). */
  listGuests(): Promise<GuestState[]>;
  inventory(): Promise<HostInventory>;
  close(): Promise<void>;
}
