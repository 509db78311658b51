/**
 * Power intents on one domain, mapped onto libvirt as Nova's libvirt driver
 * does, with the state checks that make the answer the same on every
 * hypervisor (the test driver and QEMU report a wrong state with different
 * libvirt codes).
 */
import type { GuestState, StopSignal } from '../driver';
import { pause as pauseUnlessStopping } from '../stop-signal';
import { IntentFailure } from '../../errors';
import { type Connection, isLibvirtCode } from './connection';
import { DomainState, type DomainPtr, ErrorNumber } from './ffi';
import { guestState, powerStateOf } from './guest-state';
import { unless } from './lifecycle';

/** INVALID_STATE unless the guest is in one of `states`. */
async function requireState(c: Connection, dom: DomainPtr, uuid: string, states: number[], want: string): Promise<void> {
  const s = await c.domainState(dom);
  if (!states.includes(s)) {
    throw new IntentFailure('INVALID_STATE', `instance ${uuid} is ${powerStateOf(s)}, not ${want}`, { instance_uuid: uuid, power_state: powerStateOf(s) });
  }
}

const hasManagedSave = async (c: Connection, dom: DomainPtr) => (await c.domainInt('domainHasManagedSaveImage', dom, 0)) === 1;

/** Start a stopped (or crashed) guest; a running one is left as it is. Restores a managed save if there is one. */
export async function powerOn(c: Connection, dom: DomainPtr): Promise<GuestState> {
  const s = await c.domainState(dom);
  if (s === DomainState.CRASHED) await unless(ErrorNumber.OPERATION_INVALID, c.domainInt('domainDestroy', dom));
  if (s === DomainState.SHUTOFF || s === DomainState.CRASHED) await c.domainInt('domainCreateWithFlags', dom, 0);
  return guestState(c, dom);
}

/** Poll until shut off or `ms` passed; backs off from 20 ms to 1 s between polls; StoppingError once `signal` aborts. */
async function waitShutoff(c: Connection, dom: DomainPtr, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  const deadline = Date.now() + ms;
  let delay = 20;
  for (;;) {
    if ((await c.domainState(dom)) === DomainState.SHUTOFF) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await pauseUnlessStopping(Math.min(delay, left), signal, 'waiting for the guest to shut down');
    delay = Math.min(delay * 2, 1000);
  }
}

/**
 * clean: ask the guest (ACPI, virDomainShutdown) and wait up to timeoutS,
 * then destroy. `forced` is true whenever virDomainDestroy took the guest
 * down (a timed-out clean shutdown, or clean:false). A stop of the worker
 * (`signal`) ends the wait without destroying: the guest was asked and may
 * still shut down; the next start reconciles the intent (recovery.ts).
 */
export async function powerOff(c: Connection, dom: DomainPtr, opts: { clean: boolean; timeoutS: number } & StopSignal): Promise<GuestState & { forced: boolean }> {
  const off = async (forced: boolean) => ({ ...(await guestState(c, dom)), forced });
  if ((await c.domainState(dom)) === DomainState.SHUTOFF) return off(false);
  if (opts.clean) {
    // A guest may not take the request (paused, no OS): the timeout then forces it.
    try {
      await c.domainInt('domainShutdown', dom);
    } catch (err) {
      if (!isLibvirtCode(err, ErrorNumber.OPERATION_INVALID) && !isLibvirtCode(err, ErrorNumber.NO_SUPPORT)) throw err;
    }
    // The intent's timeout_s is part of the message (Nova's clean shutdown timeout), in seconds.
    if (await waitShutoff(c, dom, opts.timeoutS * 1000, opts.signal)) return off(false);
  }
  const destroyed = await unless(ErrorNumber.OPERATION_INVALID, c.domainInt('domainDestroy', dom));
  return off(destroyed !== undefined);
}

/** As Nova: soft only for a running guest, hard otherwise or when soft is refused. Hard boots afresh (no managed save restore). */
export async function reboot(c: Connection, dom: DomainPtr, type: 'soft' | 'hard'): Promise<GuestState> {
  if (type === 'soft' && (await c.domainState(dom)) === DomainState.RUNNING) {
    try {
      await c.domainInt('domainReboot', dom, 0);
      return await guestState(c, dom);
    } catch (err) {
      if (!isLibvirtCode(err, ErrorNumber.NO_SUPPORT) && !isLibvirtCode(err, ErrorNumber.OPERATION_INVALID)) throw err;
    }
  }
  if ((await c.domainState(dom)) !== DomainState.SHUTOFF) await unless(ErrorNumber.OPERATION_INVALID, c.domainInt('domainDestroy', dom));
  if (await hasManagedSave(c, dom)) await c.domainInt('domainManagedSaveRemove', dom, 0);
  await c.domainInt('domainCreateWithFlags', dom, 0);
  return guestState(c, dom);
}

export async function pause(c: Connection, dom: DomainPtr, uuid: string): Promise<GuestState> {
  await requireState(c, dom, uuid, [DomainState.RUNNING, DomainState.BLOCKED], 'running');
  await c.domainInt('domainSuspend', dom);
  return guestState(c, dom);
}

export async function unpause(c: Connection, dom: DomainPtr, uuid: string): Promise<GuestState> {
  await requireState(c, dom, uuid, [DomainState.PAUSED], 'paused');
  await c.domainInt('domainResume', dom);
  return guestState(c, dom);
}

/** Managed save, as Nova suspends. libvirt refuses a stopped guest (VIR_ERR_OPERATION_INVALID → INVALID_STATE). */
export async function suspend(c: Connection, dom: DomainPtr): Promise<GuestState> {
  await c.domainInt('domainManagedSave', dom, 0);
  return guestState(c, dom);
}

/** Restore a managed save; also releases a guest paused by spawn(startPaused) or pause(). A running guest is left as it is. */
export async function resume(c: Connection, dom: DomainPtr, uuid: string): Promise<GuestState> {
  const s = await c.domainState(dom);
  if (s === DomainState.PAUSED) {
    await c.domainInt('domainResume', dom);
  } else if (s === DomainState.SHUTOFF) {
    if (!(await hasManagedSave(c, dom))) {
      throw new IntentFailure('INVALID_STATE', `instance ${uuid} is shut off and has no saved state to resume`, { instance_uuid: uuid });
    }
    await c.domainInt('domainCreateWithFlags', dom, 0);
  }
  return guestState(c, dom);
}
