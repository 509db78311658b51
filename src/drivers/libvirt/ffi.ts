/**
 * A thin koffi binding over Debian's libvirt.so.0: only the functions the
 * driver uses, opaque pointer types per libvirt object, and the error plumbing
 * docs/libvirt.md#errors-and-threads asks for. Typed, serialized use of these functions is in
 * connection.ts; nothing else should call them directly.
 *
 * Contracts:
 * - koffi hands pointers back as BigInt and does not type-check them (a wrong
 *   pointer crashes the process), so each libvirt object gets a branded
 *   bigint type: the compiler keeps a virDomainPtr out of a virSecretPtr slot.
 * - Strings libvirt allocates are declared `char *!` (koffi frees them after
 *   copying); `const char *` results (virConnectGetType, virDomainGetName)
 *   are libvirt's own and are not freed.
 * - libvirt prints every error to stderr unless a handler is set: a global
 *   handler is installed when the library is bound and a silent one per
 *   connection. The global one also keeps the last error that had no
 *   connection (a failed virConnectOpen), because under async calls the
 *   thread-local last error is on another thread. The handlers are koffi
 *   registered callbacks; calls from pool threads are relayed to the JS
 *   thread (the pool thread waits), so a failure costs one hop.
 * - The default event loop is registered here, before any connection can
 *   open; event-loop.ts runs it and domain-events.ts receives its callbacks.
 *   Calls that may block (a daemon's socket) run async, on the pool; the
 *   in-process test driver is called inline (connection.ts says why that
 *   cannot deadlock with a callback relayed from the event thread).
 */
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { HypervisorUnavailable, IntentFailure } from '../../errors';

// libvirt's event loop parks one libuv pool thread for as long as any
// connection is open (event-loop.ts) and each connection's call in flight
// holds another: libuv's default of 4 would leave 3 for the default 4
// connections and Node's own file work. libuv reads this once, when its pool
// first starts, so it counts only if nothing used the pool before this
// module loaded (true for the CLI). An operator's own value is kept.
process.env.UV_THREADPOOL_SIZE ??= '8';

export type ConnectPtr = bigint & { readonly __libvirt: 'virConnectPtr' };
export type DomainPtr = bigint & { readonly __libvirt: 'virDomainPtr' };
export type SecretPtr = bigint & { readonly __libvirt: 'virSecretPtr' };
/** A koffi-registered JS callback or a native function, as libvirt takes it. */
export type CallbackPtr = bigint & { readonly __libvirt: 'callback' };

/** What libvirt said when it refused. */
export interface LibvirtErrorInfo {
  code: number;
  domain: number;
  message: string;
}

export type KoffiFunction = ReturnType<LibraryHandle['func']>;

// virDomainState
export const DomainState = {
  NOSTATE: 0, RUNNING: 1, BLOCKED: 2, PAUSED: 3, SHUTDOWN: 4, SHUTOFF: 5, CRASHED: 6, PMSUSPENDED: 7,
} as const;

// virErrorNumber values the driver maps or tolerates.
export const ErrorNumber = {
  NO_SUPPORT: 3, INVALID_ARG: 8, OPERATION_FAILED: 9, NO_DOMAIN: 42, OPERATION_INVALID: 55, NO_SECRET: 66,
} as const;

export const Flags = {
  START_PAUSED: 1,
  AFFECT_LIVE: 1,
  AFFECT_CONFIG: 2,
  XML_SECURE: 1,
  XML_INACTIVE: 2,
  UNDEFINE_MANAGED_SAVE: 1,
  UNDEFINE_SNAPSHOTS_METADATA: 2,
  UNDEFINE_NVRAM: 4,
  UNDEFINE_CHECKPOINTS_METADATA: 16,
  LIST_ACTIVE: 1,
  LIST_RUNNING: 1 << 4,
  LIST_PAUSED: 1 << 5,
  LIST_SHUTOFF: 1 << 6,
  LIST_OTHER: 1 << 7,
  LIST_MANAGEDSAVE: 1 << 8,
  METADATA_ELEMENT: 2,
  SECRET_USAGE_CEPH: 2,
  SECRET_USAGE_ISCSI: 3,
  BLOCK_RESIZE_BYTES: 1,
} as const;

// virDomainEventID: only the lifecycle event is used.
export const EVENT_ID_LIFECYCLE = 0;

/** 64-bit values arrive as number or bigint depending on size (docs/libvirt.md#values-and-pointers). */
export function toNumber(v: number | bigint): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** A type defined once per process: other modules may bind the same names. */
function named(name: string, make: () => TypeObject): TypeObject {
  try {
    return koffi.type(name);
  } catch {
    return make();
  }
}

function bind() {
  const lib = koffi.load('libvirt.so.0');
  named('virConnect', () => koffi.opaque('virConnect'));
  named('virDomain', () => koffi.opaque('virDomain'));
  named('virSecret', () => koffi.opaque('virSecret'));
  const virError = named('virError', () =>
    koffi.struct('virError', {
      code: 'int', domain: 'int', message: 'char *', level: 'int', conn: 'void *', dom: 'void *',
      str1: 'char *', str2: 'char *', str3: 'char *', int1: 'int', int2: 'int', net: 'void *',
    }),
  );
  const virNodeInfo = named('virNodeInfo', () =>
    koffi.struct('virNodeInfo', {
      model: koffi.array('char', 32, 'String'), memory: 'unsigned long', cpus: 'uint', mhz: 'uint',
      nodes: 'uint', sockets: 'uint', cores: 'uint', threads: 'uint',
    }),
  );
  const errorFunc = named('virErrorFunc', () => koffi.proto('void virErrorFunc(void *userData, virError *err)'));
  const lifecycleFunc = named('virConnectDomainEventCallback', () =>
    koffi.proto('int virConnectDomainEventCallback(virConnect *conn, virDomain *dom, int event, int detail, void *opaque)'),
  );
  const closeFunc = named('virConnectCloseFunc', () => koffi.proto('void virConnectCloseFunc(virConnect *conn, int reason, void *opaque)'));
  named('virEventTimeoutCallback', () => koffi.proto('void virEventTimeoutCallback(int timer, void *opaque)'));
  named('virFreeCallback', () => koffi.proto('void virFreeCallback(void *opaque)'));
  const fn = {
    // connection
    connectOpen: lib.func('virConnect *virConnectOpen(const char *name)'),
    connectClose: lib.func('int virConnectClose(virConnect *conn)'),
    connectGetType: lib.func('const char *virConnectGetType(virConnect *conn)'),
    connectGetVersion: lib.func('int virConnectGetVersion(virConnect *conn, _Out_ unsigned long *hvVer)'),
    connectNumOfDomains: lib.func('int virConnectNumOfDomains(virConnect *conn)'),
    connectListAllDomains: lib.func('int virConnectListAllDomains(virConnect *conn, _Out_ void **domains, unsigned int flags)'),
    nodeGetInfo: lib.func('int virNodeGetInfo(virConnect *conn, _Out_ virNodeInfo *info)'),
    // errors
    setErrorFunc: lib.func('void virSetErrorFunc(void *userData, virErrorFunc *handler)'),
    connSetErrorFunc: lib.func('void virConnSetErrorFunc(virConnect *conn, void *userData, virErrorFunc *handler)'),
    connCopyLastError: lib.func('int virConnCopyLastError(virConnect *conn, virError *to)'),
    connResetLastError: lib.func('void virConnResetLastError(virConnect *conn)'),
    resetError: lib.func('void virResetError(virError *err)'),
    // events (event-loop.ts, domain-events.ts)
    eventRegisterDefaultImpl: lib.func('int virEventRegisterDefaultImpl(void)'),
    eventRunDefaultImpl: lib.func('int virEventRunDefaultImpl(void)'),
    eventAddTimeout: lib.func('int virEventAddTimeout(int timeout, virEventTimeoutCallback *cb, void *opaque, virFreeCallback *ff)'),
    eventUpdateTimeout: lib.func('void virEventUpdateTimeout(int timer, int timeout)'),
    eventRemoveTimeout: lib.func('int virEventRemoveTimeout(int timer)'),
    connectDomainEventRegisterAny: lib.func(
      'int virConnectDomainEventRegisterAny(virConnect *conn, virDomain *dom, int eventID, virConnectDomainEventCallback *cb, void *opaque, virFreeCallback *freecb)',
    ),
    connectDomainEventDeregisterAny: lib.func('int virConnectDomainEventDeregisterAny(virConnect *conn, int callbackID)'),
    connectRegisterCloseCallback: lib.func(
      'int virConnectRegisterCloseCallback(virConnect *conn, virConnectCloseFunc *cb, void *opaque, virFreeCallback *freecb)',
    ),
    connectUnregisterCloseCallback: lib.func('int virConnectUnregisterCloseCallback(virConnect *conn, virConnectCloseFunc *cb)'),
    connectSetKeepAlive: lib.func('int virConnectSetKeepAlive(virConnect *conn, int interval, unsigned int count)'),
    // 1 while the connection to the daemon stands, 0 once libvirt knows it is lost (client state, no round trip).
    connectIsAlive: lib.func('int virConnectIsAlive(virConnect *conn)'),
    // domains
    domainLookupByUUIDString: lib.func('virDomain *virDomainLookupByUUIDString(virConnect *conn, const char *uuid)'),
    domainDefineXML: lib.func('virDomain *virDomainDefineXML(virConnect *conn, const char *xml)'),
    domainUndefineFlags: lib.func('int virDomainUndefineFlags(virDomain *dom, unsigned int flags)'),
    domainCreateWithFlags: lib.func('int virDomainCreateWithFlags(virDomain *dom, unsigned int flags)'),
    domainDestroy: lib.func('int virDomainDestroy(virDomain *dom)'),
    domainShutdown: lib.func('int virDomainShutdown(virDomain *dom)'),
    domainReboot: lib.func('int virDomainReboot(virDomain *dom, unsigned int flags)'),
    domainSuspend: lib.func('int virDomainSuspend(virDomain *dom)'),
    domainResume: lib.func('int virDomainResume(virDomain *dom)'),
    domainManagedSave: lib.func('int virDomainManagedSave(virDomain *dom, unsigned int flags)'),
    domainManagedSaveRemove: lib.func('int virDomainManagedSaveRemove(virDomain *dom, unsigned int flags)'),
    domainHasManagedSaveImage: lib.func('int virDomainHasManagedSaveImage(virDomain *dom, unsigned int flags)'),
    domainGetState: lib.func('int virDomainGetState(virDomain *dom, _Out_ int *state, _Out_ int *reason, unsigned int flags)'),
    domainGetXMLDesc: lib.func('char *! virDomainGetXMLDesc(virDomain *dom, unsigned int flags)'),
    domainIsPersistent: lib.func('int virDomainIsPersistent(virDomain *dom)'),
    domainAttachDeviceFlags: lib.func('int virDomainAttachDeviceFlags(virDomain *dom, const char *xml, unsigned int flags)'),
    domainDetachDeviceFlags: lib.func('int virDomainDetachDeviceFlags(virDomain *dom, const char *xml, unsigned int flags)'),
    domainBlockResize: lib.func('int virDomainBlockResize(virDomain *dom, const char *disk, unsigned long long size, unsigned int flags)'),
    domainSetMetadata: lib.func(
      'int virDomainSetMetadata(virDomain *dom, int type, const char *metadata, const char *key, const char *uri, unsigned int flags)',
    ),
    domainGetName: lib.func('const char *virDomainGetName(virDomain *dom)'),
    domainGetUUIDString: lib.func('int virDomainGetUUIDString(virDomain *dom, _Out_ uint8_t *buf)'),
    domainFree: lib.func('int virDomainFree(virDomain *dom)'),
    // secrets
    secretDefineXML: lib.func('virSecret *virSecretDefineXML(virConnect *conn, const char *xml, unsigned int flags)'),
    secretLookupByUsage: lib.func('virSecret *virSecretLookupByUsage(virConnect *conn, int usageType, const char *usageID)'),
    secretSetValue: lib.func('int virSecretSetValue(virSecret *secret, const uint8_t *value, size_t size, unsigned int flags)'),
    secretUndefine: lib.func('int virSecretUndefine(virSecret *secret)'),
    secretFree: lib.func('int virSecretFree(virSecret *secret)'),
  };
  return { lib, fn, virError, virNodeInfo, errorFunc, lifecycleFunc, closeFunc };
}

export type Bindings = ReturnType<typeof bind>;

let bound: Bindings | undefined;
let lastUnattributed: LibvirtErrorInfo | undefined;
let silentHandler: bigint | undefined;

function decodeError(b: Bindings, ptr: unknown): LibvirtErrorInfo {
  const e: { code: number; domain: number; message: string | null } = koffi.decode(ptr, b.virError);
  return { code: e.code, domain: e.domain, message: e.message ?? '' };
}

/** The bound library, loaded and with its global error handler set on first use. */
export function libvirt(): Bindings {
  if (bound) return bound;
  const b = bind();
  // Registered for the life of the process: libvirt may call it at any time.
  const globalHandler = koffi.register((_ud: unknown, err: unknown) => {
    if (err !== null) lastUnattributed = decodeError(b, err);
  }, koffi.pointer(b.errorFunc));
  silentHandler = koffi.register(() => {}, koffi.pointer(b.errorFunc));
  b.fn.setErrorFunc(null, globalHandler);
  // Before any connection opens (docs/libvirt.md#events): connections opened earlier
  // cannot deliver events. A remote connection opened after this also
  // answers the daemon's keepalive only while the loop runs, so every
  // connection keeps the loop running while it is open (connection.ts).
  if (b.fn.eventRegisterDefaultImpl() < 0) throw new HypervisorUnavailable('virEventRegisterDefaultImpl failed');
  bound = b;
  return b;
}

/**
 * A native function usable as a libvirt timer callback that does nothing
 * harmful: virResetLastError clears the calling thread's last error (the
 * event thread's, which nobody reads) and ignores the (timer, opaque)
 * arguments. Native, not a koffi-registered JS function, so libvirt's event
 * thread never waits on the JS thread for it: with a JS callback a
 * process.exit() while an iteration is parked hangs for ever (measured).
 */
export function nativeNoopTimerCallback(): CallbackPtr {
  const ptr: unknown = libvirt().lib.symbol('virResetLastError');
  if (typeof ptr !== 'bigint') throw new HypervisorUnavailable('virResetLastError not found in libvirt.so.0');
  return ptr as CallbackPtr;
}

/** Errors on this connection no longer reach stderr (nor the global handler). */
export function silenceConnection(conn: ConnectPtr): void {
  const b = libvirt();
  b.fn.connSetErrorFunc(conn, null, silentHandler);
}

/** Take (and clear) the last error raised with no connection, e.g. by virConnectOpen. */
export function takeUnattributedError(): LibvirtErrorInfo | undefined {
  const e = lastUnattributed;
  lastUnattributed = undefined;
  return e;
}

/**
 * The connection's copy of its last error, then cleared so it cannot be read
 * twice. Valid only while no other call runs on that connection (callers
 * serialize per connection).
 */
export function takeConnError(conn: ConnectPtr): LibvirtErrorInfo | undefined {
  const b = libvirt();
  const buf: unknown = koffi.alloc(b.virError, 1);
  try {
    const code: number = b.fn.connCopyLastError(conn, buf);
    if (code <= 0) return undefined;
    const info = decodeError(b, buf);
    b.fn.resetError(buf); // frees the strings the copy duplicated
    b.fn.connResetLastError(conn);
    return info;
  } finally {
    koffi.free(buf);
  }
}

/** Run a libvirt function on libuv's pool; the event loop keeps running. */
export function callAsync<R>(fn: KoffiFunction, args: unknown[]): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    fn.async(...args, (err: unknown, res: R) => {
      if (err) reject(err instanceof Error ? err : new IntentFailure('LIBVIRT_ERROR', String(err)));
      else resolve(res);
    });
  });
}

/** The virDomainPtr array virConnectListAllDomains returned, then the array itself freed. */
export function takeDomainArray(array: unknown, count: number): DomainPtr[] {
  if (count <= 0 || array === null) {
    if (array !== null) koffi.free(array);
    return [];
  }
  const ptrs: bigint[] = koffi.decode(array, koffi.array('virDomain *', count));
  koffi.free(array);
  return ptrs as DomainPtr[];
}

/** The 36-character uuid of a domain (local: no I/O). */
export function domainUuid(dom: DomainPtr): string {
  const buf = Buffer.alloc(37);
  libvirt().fn.domainGetUUIDString(dom, buf);
  return buf.toString('latin1', 0, 36);
}

/** The domain's libvirt name (local: no I/O; libvirt owns the string). */
export function domainName(dom: DomainPtr): string {
  const name: string | null = libvirt().fn.domainGetName(dom);
  return name ?? '';
}
