/**
 * libvirt's callbacks into JS: one koffi-registered lifecycle callback and
 * one connection-close callback for the whole process, each call routed by
 * the `opaque` number it was registered with.
 *
 * Why process-wide and never unregistered: libvirt may still be delivering a
 * callback (relayed from its event thread, which waits for the JS thread)
 * when a subscription ends; unregistering the koffi trampoline under it would
 * crash. A call for a subscription that has ended finds no handler and is
 * dropped.
 *
 * Handlers run on the JS thread while libvirt's event thread waits: they must
 * return quickly and make no libvirt call there (reading a domain's name and
 * uuid is a local read and is done here, before the handler runs).
 */
import koffi from 'koffi';
import type { Connection } from './connection';
import { type CallbackPtr, type DomainPtr, domainName, domainUuid, libvirt } from './ffi';

export interface LifecycleEvent {
  uuid: string;
  name: string;
  /** virDomainEventType */
  event: number;
  /** the event's detail (virDomainEvent*DetailType) */
  detail: number;
}

type LifecycleHandler = (e: LifecycleEvent) => void;
/** reason: virConnectCloseReason (0 error, 1 end of file, 2 keepalive, 3 client). */
type CloseHandler = (reason: number) => void;

const lifecycleHandlers = new Map<number, LifecycleHandler>();
const closeHandlers = new Map<number, CloseHandler>();
let nextId = 1;
let trampolines: { lifecycle: CallbackPtr; close: CallbackPtr } | undefined;

const idOf = (opaque: unknown): number => (typeof opaque === 'bigint' ? Number(opaque) : -1);

function callbacks(): { lifecycle: CallbackPtr; close: CallbackPtr } {
  if (trampolines) return trampolines;
  const b = libvirt();
  const lifecycle = koffi.register((_conn: unknown, dom: unknown, event: number, detail: number, opaque: unknown) => {
    const handler = lifecycleHandlers.get(idOf(opaque));
    if (handler && typeof dom === 'bigint') {
      const d = dom as DomainPtr;
      // A throw would reach libvirt as 0 and be lost: handlers catch their own errors.
      handler({ uuid: domainUuid(d), name: domainName(d), event, detail });
    }
    return 0;
  }, koffi.pointer(b.lifecycleFunc));
  const close = koffi.register((_conn: unknown, reason: number, opaque: unknown) => {
    closeHandlers.get(idOf(opaque))?.(reason);
  }, koffi.pointer(b.closeFunc));
  trampolines = { lifecycle: lifecycle as CallbackPtr, close: close as CallbackPtr };
  return trampolines;
}

/**
 * Lifecycle events for every domain on `c`, and the news that `c` was lost.
 * Resolves once both are registered; the returned function ends both
 * (errors ignored: on a lost connection there is nothing left to end).
 */
export async function subscribe(c: Connection, onLifecycle: LifecycleHandler, onClose: CloseHandler): Promise<() => Promise<void>> {
  const cb = callbacks();
  const id = nextId++;
  lifecycleHandlers.set(id, onLifecycle);
  closeHandlers.set(id, onClose);
  let callbackId = -1;
  let closeRegistered = false;
  const end = async () => {
    lifecycleHandlers.delete(id);
    closeHandlers.delete(id);
    if (callbackId >= 0) await c.deregisterEvents(callbackId).catch(() => undefined);
    if (closeRegistered) await c.unregisterCloseCallback(cb.close).catch(() => undefined);
  };
  try {
    callbackId = await c.registerLifecycleEvents(cb.lifecycle, BigInt(id));
    await c.registerCloseCallback(cb.close, BigInt(id));
    closeRegistered = true;
  } catch (err) {
    await end();
    throw err;
  }
  return end;
}

/**
 * Only the news that `c` was lost (the pool's connections, which take no
 * events). Resolves once registered; the returned function ends it.
 */
export async function onConnectionClosed(c: Connection, onClose: CloseHandler): Promise<() => Promise<void>> {
  const cb = callbacks();
  const id = nextId++;
  closeHandlers.set(id, onClose);
  try {
    await c.registerCloseCallback(cb.close, BigInt(id));
  } catch (err) {
    closeHandlers.delete(id);
    throw err;
  }
  return async () => {
    closeHandlers.delete(id);
    await c.unregisterCloseCallback(cb.close).catch(() => undefined);
  };
}
