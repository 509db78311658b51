/**
 * libvirt's default event loop, run on libuv's pool while anything holds it.
 *
 * Who holds it: every open connection (connection.ts). Events need it, and a
 * remote connection opened after virEventRegisterDefaultImpl (ffi.ts does
 * that first) tells the daemon it answers keepalives: with the loop stopped,
 * libvirtd drops it after ~30 s idle ("Cannot write data: Broken pipe",
 * measured on test+unix:///default). The loop stops when the last holder
 * lets go.
 *
 * How it runs: one async virEventRunDefaultImpl at a time, which parks one
 * pool thread in poll() (hence UV_THREADPOOL_SIZE in ffi.ts). A native no-op
 * timer every TICK_MS bounds how long an iteration stays parked, so a stop,
 * or a process.exit() that skipped it, waits at most that long; releasing
 * the last hold also fires the timer at once. Control calls (add, update,
 * remove timer) run async like every other locking libvirt call.
 *
 * Contract: the process does not exit by itself while a connection is open
 * (close the driver); settleEventLoop() lets close() return only once
 * nothing is parked, so process.exit() right after is immediate.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { callAsync, libvirt, nativeNoopTimerCallback } from './ffi';

const TICK_MS = 1000;
/** Pause after a failed iteration (virEventRunDefaultImpl returned -1), so a broken loop does not spin. */
const FAILED_ITERATION_PAUSE_MS = 100;

let holders = 0;
let tick = -1;
let woken = false;
let running: Promise<void> | undefined;

/** Keep the loop running until the returned release is called (idempotent). */
export function retainEventLoop(): () => void {
  holders++;
  running ??= start();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holders--;
    // A failed wake costs only time: the loop still stops at its next tick.
    if (holders === 0) wake().catch(() => undefined);
  };
}

/** Resolves at once if the loop still has holders, else once its last iteration returned. */
export function settleEventLoop(): Promise<void> {
  return holders > 0 || !running ? Promise.resolve() : running;
}

async function wake(): Promise<void> {
  if (tick < 0 || woken) return;
  woken = true;
  await callAsync<void>(libvirt().fn.eventUpdateTimeout, [tick, 0]);
}

/**
 * The loop, whose failure (koffi refusing an async call) ends it rather than
 * the process: events then stop, the watchers' reconciliation still sees
 * every change, and the next retain starts it again.
 */
function start(): Promise<void> {
  return run().catch(() => {
    running = undefined;
  });
}

async function run(): Promise<void> {
  const { fn } = libvirt();
  woken = false;
  // -1 (no timer) still runs: only the bound on a parked iteration is lost.
  tick = await callAsync<number>(fn.eventAddTimeout, [TICK_MS, nativeNoopTimerCallback(), null, null]);
  try {
    while (holders > 0) {
      const r = await callAsync<number>(fn.eventRunDefaultImpl, []);
      if (woken) {
        woken = false;
        if (holders > 0) await callAsync<void>(fn.eventUpdateTimeout, [tick, TICK_MS]);
      }
      if (r < 0) await sleep(FAILED_ITERATION_PAUSE_MS);
    }
  } finally {
    const t = tick;
    tick = -1;
    if (t >= 0) await callAsync<number>(fn.eventRemoveTimeout, [t]);
    running = undefined;
  }
  // Someone took hold while the timer was being removed.
  if (holders > 0) running ??= start();
}
