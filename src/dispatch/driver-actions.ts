/**
 * What each intent does to the host, on the driver. Handlers return what
 * happened; they never touch the transport, publish, or ack (the dispatcher
 * maps the result to events, a reply and a settlement).
 */
import type { Driver, GuestState } from '../drivers/driver';
import { IntentFailure, StoppingError } from '../errors';
import { unlessStopping } from '../drivers/stop-signal';
import type { HostConnector, HostInventory, Intent, IntentOf } from '../intents';
import type { Logger } from '../log';
import type { InstanceBook } from '../host-state/instance-book';
import { type IntentRecords, queryIntents } from './intent-records';
import type { PortReadiness } from '../host-state/port-readiness';
import { attachVolume, extendVolume, reserveDevice } from './volume-devices';
import type { WaitWatch } from './wait-watch';

export interface DriverActionDeps {
  driver: Driver;
  ports: PortReadiness;
  connector: () => Promise<HostConnector>;
  vifPluggingTimeoutMs: number;
  vifPluggingIsFatal: boolean;
  log: Logger;
  /** Lines while a spawn waits for its ports (wait-watch.ts). */
  waits?: WaitWatch | undefined;
  /** Aborted when the worker stops and its grace period is over: waits end with StoppingError (drivers/stop-signal.ts). */
  signal?: AbortSignal | undefined;
}

/** What the worker itself keeps that some intents read or change (device reservations, the intent store). */
export interface HostRecords {
  book: InstanceBook;
  intents: IntentRecords;
}

/** What the host did. `guest` is the driver's settled view after the change. */
export interface DriverActionResult {
  guest?: GuestState;
  deleted?: boolean;
  existed?: boolean;
  live?: boolean;
  device?: string;
  forced?: boolean;
  /** For reads and signals: the reply body as it is. */
  value?: unknown;
}

function notSupported(driver: Driver, what: string): never {
  throw new IntentFailure('NOT_SUPPORTED', `driver ${driver.name} cannot ${what}`);
}

export async function driverAction(intent: Intent, deps: DriverActionDeps, records: HostRecords): Promise<DriverActionResult> {
  const { driver } = deps;
  switch (intent.kind) {
    case 'instance.spawn':
      return spawn(intent, deps);
    case 'instance.destroy': {
      const r = await driver.destroy(intent.args.instance_uuid, { keepDisks: intent.args.keep_disks ?? false });
      return { deleted: true, existed: r.existed };
    }
    case 'instance.power_on':
      return { guest: await driver.powerOn(intent.args.instance_uuid) };
    case 'instance.power_off': {
      const r = await driver.powerOff(intent.args.instance_uuid, { clean: intent.args.clean, timeoutS: intent.args.timeout_s, signal: deps.signal });
      return { guest: r, forced: r.forced };
    }
    case 'instance.reboot':
      return { guest: await driver.reboot(intent.args.instance_uuid, intent.args.type) };
    case 'instance.pause':
      return { guest: await driver.pause(intent.args.instance_uuid) };
    case 'instance.unpause':
      return { guest: await driver.unpause(intent.args.instance_uuid) };
    case 'instance.suspend':
      return { guest: await driver.suspend(intent.args.instance_uuid) };
    case 'instance.resume':
      return { guest: await driver.resume(intent.args.instance_uuid) };
    case 'instance.get_state':
      return { guest: await driver.getState(intent.args.instance_uuid) };
    case 'instance.console_output': {
      if (!driver.consoleOutput) return notSupported(driver, 'read a guest\'s console output');
      return { value: { output: await driver.consoleOutput(intent.args.instance_uuid, intent.args.tail_length) } };
    }
    case 'volume.attach': {
      const d = await attachVolume(intent.args, { driver, book: records.book });
      return { ...d, guest: await driver.getState(intent.args.instance_uuid) };
    }
    case 'volume.detach': {
      const { instance_uuid, volume_id } = intent.args;
      records.book.release(instance_uuid, volume_id);
      const d = await driver.detachVolume(instance_uuid, volume_id, { signal: deps.signal });
      return { ...d, guest: await driver.getState(instance_uuid) };
    }
    case 'volume.reserve_device': {
      const { instance_uuid, volume_id } = intent.args;
      const { device } = await reserveDevice(intent.args, { driver, book: records.book });
      return { value: { instance_uuid, volume_id, device_name: `/dev/${device}` }, guest: await driver.getState(instance_uuid) };
    }
    case 'volume.extend': {
      const d = await extendVolume(intent.args, driver);
      return { ...d, guest: await driver.getState(intent.args.instance_uuid) };
    }
    case 'port.plug': {
      const d = await driver.plugPort(intent.args.instance_uuid, intent.args.port);
      return { ...d, guest: await driver.getState(intent.args.instance_uuid) };
    }
    case 'port.unplug': {
      const d = await driver.unplugPort(intent.args.instance_uuid, intent.args.port_id, { signal: deps.signal });
      return { ...d, guest: await driver.getState(intent.args.instance_uuid) };
    }
    case 'port.ready': {
      const waiter = deps.ports.signal(intent.args.port_id, intent.args.status);
      return { value: { port_id: intent.args.port_id, status: intent.args.status, waiter } };
    }
    case 'host.connector':
      return { value: await deps.connector() };
    case 'host.inventory': {
      const inv: HostInventory = await driver.inventory();
      return { value: inv };
    }
    case 'host.uptime': {
      if (!driver.hostUptime) return notSupported(driver, 'tell the host\'s uptime');
      return { value: { uptime: await driver.hostUptime() } };
    }
    case 'host.intents':
      return { value: queryIntents(intent.args, records.intents) };
  }
}

/**
 * Define and start the guest. With ports to wait for, it starts paused and
 * resumes only when every port had port.ready; past vif_plugging_timeout it
 * fails (and removes the guest) or carries on, per vif_plugging_is_fatal —
 * Nova's libvirt driver's _create_guest_with_network, without the lost-event race.
 */
async function spawn(intent: IntentOf<'instance.spawn'>, deps: DriverActionDeps): Promise<DriverActionResult> {
  const spec = intent.args;
  const portIds = (spec.ports ?? []).map((p) => p.port_id);
  const wait = portIds.length > 0 && (spec.wait_for_ports ?? true) && deps.vifPluggingTimeoutMs > 0;
  const guest = await deps.driver.spawn(spec, { startPaused: wait });
  if (!wait) return { guest };

  const waiting = deps.ports.wait(portIds, deps.vifPluggingTimeoutMs);
  // Ports whose port.ready came before the spawn are not waited for.
  const endWait = deps.ports.stillAwaited(portIds).length > 0
    ? deps.waits?.begin(deps.log, 'info', 'waiting for port.ready of its ports', () => ({ ports: deps.ports.stillAwaited(portIds), timeout_s: deps.vifPluggingTimeoutMs / 1000 }))
    : undefined;
  const r = await unlessStopping(waiting, deps.signal, 'waiting for port.ready of its ports')
    .catch((err: unknown) => {
      // The guest stays paused, as a crash would leave it: the next start reconciles the spawn (recovery.ts).
      if (err instanceof StoppingError) deps.ports.cancel(portIds);
      throw err;
    })
    .finally(() => endWait?.());
  const problem =
    r.failed.length > 0
      ? new IntentFailure('PORT_FAILED', `Neutron reported ports failed: ${r.failed.join(', ')}`, { failed: r.failed })
      : r.missing.length > 0
        ? new IntentFailure('PORT_WAIT_TIMEOUT', `Timeout waiting for port.ready of ${r.missing.join(', ')} after ${deps.vifPluggingTimeoutMs / 1000} s`, { missing: r.missing })
        : undefined;
  if (problem && deps.vifPluggingIsFatal) {
    // Nova destroys the guest when plugging fails; leave nothing half-built behind.
    await deps.driver.destroy(spec.instance_uuid, { keepDisks: false }).catch((err: unknown) => {
      deps.log.warn('could not remove guest after failed port wait', { error: String(err) });
    });
    throw problem;
  }
  if (problem) deps.log.warn(`${problem.message}; vif_plugging_is_fatal is false, starting anyway`);
  return { guest: await deps.driver.unpause(spec.instance_uuid) };
}
