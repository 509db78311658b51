/**
 * One libvirt connection, its calls serialized, and a pool of them.
 *
 * Why serialize per connection: libvirt's last error is thread-local and
 * async calls run on whichever libuv pool thread is free, so the only
 * reliable error is the connection's copy (virConnCopyLastError). It belongs
 * to the last failed call on that connection, so each connection runs one
 * call at a time and reads the error before the next call starts (docs/libvirt.md#errors-and-threads:
 * 63 of 64 concurrent failures got another call's error unserialized, 0
 * serialized). Parallelism comes from several connections.
 *
 * A domain or secret pointer belongs to the connection that produced it: an
 * operation picks one connection and uses it for all its steps.
 *
 * Every connection holds libvirt's event loop (event-loop.ts) from open to
 * close: a remote one needs it to answer the daemon's keepalives.
 *
 * A daemon connection can be lost (libvirtd restarted, keepalive timed
 * out): a failed call then asks virConnectIsAlive, and a dead connection is
 * marked lost, its failure and every later call's become
 * HYPERVISOR_UNAVAILABLE (retryable), and its owner is told (onLost: the
 * pool in pool.ts replaces it).
 *
 * In-process drivers (test:///...) are called inline, on the JS thread: the
 * test driver works on memory and a call takes ~1.5 us there, while a trip
 * through libuv's pool costs ~30 us of latency and ~20 us of JS-thread CPU
 * (docs/libvirt.md#errors-and-threads; the pool hop was 28 % of the worker's CPU in `npm run bench`).
 * Inline is safe from the lock the koffi note in ffi.ts warns about:
 * libvirt's event thread drops the event-state lock while a callback runs
 * (object_event.c, virObjectEventStateDispatchFunc) and holds no domain or
 * driver lock then, so a JS-thread call never waits on the parked event
 * thread. Anything that talks to a daemon (qemu:///, test+unix:///) stays on
 * the pool: its calls block on a socket.
 */
import { HypervisorUnavailable, IntentFailure, LibvirtError, type FailureCode } from '../../errors';
import { retainEventLoop } from './event-loop';
import {
  type CallbackPtr, callAsync, type ConnectPtr, type DomainPtr, ErrorNumber, EVENT_ID_LIFECYCLE, type KoffiFunction,
  type LibvirtErrorInfo, libvirt, type SecretPtr, silenceConnection, takeConnError, takeDomainArray, takeUnattributedError,
  toNumber,
} from './ffi';

/** libvirt's refusal as a typed failure, libvirt's code and message kept. */
export function toLibvirtError(call: string, info: LibvirtErrorInfo | undefined): LibvirtError {
  if (!info) return new LibvirtError('LIBVIRT_ERROR', 0, 0, `${call} failed and libvirt recorded no error`);
  const code: FailureCode =
    info.code === ErrorNumber.NO_DOMAIN ? 'INSTANCE_NOT_FOUND'
    : info.code === ErrorNumber.OPERATION_INVALID ? 'INVALID_STATE'
    : info.code === ErrorNumber.NO_SUPPORT ? 'NOT_SUPPORTED'
    : 'LIBVIRT_ERROR';
  const err = new LibvirtError(code, info.code, info.domain, info.message);
  err.details.libvirt_call = call;
  return err;
}

export function isLibvirtCode(err: unknown, code: number): boolean {
  return err instanceof LibvirtError && err.libvirtCode === code;
}

const isNull = (r: unknown) => r === null;
const isNegative = (r: number) => r < 0;

type DomainIntCall =
  | 'domainUndefineFlags' | 'domainCreateWithFlags' | 'domainDestroy' | 'domainShutdown' | 'domainReboot'
  | 'domainSuspend' | 'domainResume' | 'domainManagedSave' | 'domainManagedSaveRemove'
  | 'domainHasManagedSaveImage' | 'domainIsPersistent';

const CALL_NAMES: Record<DomainIntCall, string> = {
  domainUndefineFlags: 'virDomainUndefineFlags', domainCreateWithFlags: 'virDomainCreateWithFlags',
  domainDestroy: 'virDomainDestroy', domainShutdown: 'virDomainShutdown', domainReboot: 'virDomainReboot',
  domainSuspend: 'virDomainSuspend', domainResume: 'virDomainResume', domainManagedSave: 'virDomainManagedSave',
  domainManagedSaveRemove: 'virDomainManagedSaveRemove', domainHasManagedSaveImage: 'virDomainHasManagedSaveImage',
  domainIsPersistent: 'virDomainIsPersistent',
};

export interface NodeInfo {
  cpus: number;
  memoryKiB: number;
}

/** A driver that runs inside this process without I/O: only libvirt's test driver on its own (test:///default, test:///file.xml). */
export function isInProcessUri(uri: string): boolean {
  return /^test:\/\/\//.test(uri);
}

/**
 * A connection libvirt has lost (daemon restarted or gone, keepalive timed
 * out): what was said, once. Every later call on it fails
 * HYPERVISOR_UNAVAILABLE at once, and the pool (pool.ts) replaces it.
 */
export type LostHandler = (c: Connection, why: string) => void;

export class Connection {
  private tail: Promise<unknown> = Promise.resolve();
  /** Calls run on the JS thread (isInProcessUri), not on libuv's pool. */
  private readonly inline: boolean;
  private closed = false;
  /** Why libvirt lost this connection, once it has. */
  private lostWhy: string | undefined;
  /** Calls queued or running: the pool's load measure. */
  pending = 0;
  /** Told once when the connection is found lost. */
  onLost: LostHandler | undefined;

  constructor(
    readonly uri: string,
    private readonly ptr: ConnectPtr,
    /** Lets go of the event loop once closed. */
    private readonly release: () => void = () => {},
  ) {
    this.inline = isInProcessUri(uri);
  }

  get lost(): boolean {
    return this.lostWhy !== undefined;
  }

  /** Mark the connection lost (libvirt's close callback, or a failed call on a dead socket); idempotent. */
  markLost(why: string): void {
    if (this.lostWhy !== undefined) return;
    this.lostWhy = why;
    this.onLost?.(this, why);
  }

  private unavailable(call: string, during?: string): HypervisorUnavailable {
    const what = during === undefined
      ? `libvirt connection to ${this.uri} is lost (${this.lostWhy}); reconnecting`
      : `libvirt connection to ${this.uri} was lost during ${call} (${during}); its effect is unknown; reconnecting`;
    return new HypervisorUnavailable(what, { libvirt_call: call, uri: this.uri });
  }

  /**
   * After a failed call on a daemon connection: is the connection itself
   * gone? virConnectIsAlive reads the client's state, no round trip.
   */
  private async stillAlive(): Promise<boolean> {
    const r = await callAsync<number>(this.fn.connectIsAlive, [this.ptr]).catch(() => -1);
    return r === 1;
  }

  /** fn.async(args) after every earlier call here; on a `failed` result, libvirt's error for it. */
  private call<R>(name: string, fn: KoffiFunction, args: unknown[], failed: (r: R) => boolean): Promise<R> {
    // Closing a lost connection still frees it.
    if (this.lost && name !== 'virConnectClose') return Promise.reject(this.unavailable(name));
    if (this.closed) return Promise.reject(new IntentFailure('INTERNAL', `libvirt connection to ${this.uri} is closed`));
    if (this.inline) {
      // Nothing else can run between the call and the error read, so no queue is needed.
      const r = fn(...args) as R;
      return failed(r) ? Promise.reject(toLibvirtError(name, takeConnError(this.ptr))) : Promise.resolve(r);
    }
    this.pending++;
    const run = async (): Promise<R> => {
      try {
        // Queued behind the call that found the connection lost.
        if (this.lost && name !== 'virConnectClose') throw this.unavailable(name);
        const r = await callAsync<R>(fn, args);
        if (!failed(r)) return r;
        // Read before the next call on this connection can overwrite it.
        const err = toLibvirtError(name, takeConnError(this.ptr));
        if (name === 'virConnectClose' || (await this.stillAlive())) throw err;
        this.markLost(err.message);
        throw this.unavailable(name, err.message);
      } finally {
        this.pending--;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private get fn() {
    return libvirt().fn;
  }

  lookupDomain(uuid: string): Promise<DomainPtr> {
    return this.call<DomainPtr>('virDomainLookupByUUIDString', this.fn.domainLookupByUUIDString, [this.ptr, uuid], isNull);
  }

  /** The domain, or undefined when libvirt says there is none (VIR_ERR_NO_DOMAIN). */
  async findDomain(uuid: string): Promise<DomainPtr | undefined> {
    try {
      return await this.lookupDomain(uuid);
    } catch (err) {
      if (isLibvirtCode(err, ErrorNumber.NO_DOMAIN)) return undefined;
      throw err;
    }
  }

  defineDomain(xml: string): Promise<DomainPtr> {
    return this.call<DomainPtr>('virDomainDefineXML', this.fn.domainDefineXML, [this.ptr, xml], isNull);
  }

  /** An int-returning domain call (-1 is failure); the result (0/1 for predicates). */
  domainInt(call: DomainIntCall, dom: DomainPtr, ...flags: number[]): Promise<number> {
    return this.call<number>(CALL_NAMES[call], this.fn[call], [dom, ...flags], isNegative);
  }

  domainXml(dom: DomainPtr, flags: number): Promise<string> {
    return this.call<string>('virDomainGetXMLDesc', this.fn.domainGetXMLDesc, [dom, flags], isNull);
  }

  async domainState(dom: DomainPtr): Promise<number> {
    const state = [0];
    const reason = [0];
    await this.call<number>('virDomainGetState', this.fn.domainGetState, [dom, state, reason, 0], isNegative);
    return state[0] ?? 0;
  }

  async attachDevice(dom: DomainPtr, xml: string, flags: number): Promise<void> {
    await this.call<number>('virDomainAttachDeviceFlags', this.fn.domainAttachDeviceFlags, [dom, xml, flags], isNegative);
  }

  async detachDevice(dom: DomainPtr, xml: string, flags: number): Promise<void> {
    await this.call<number>('virDomainDetachDeviceFlags', this.fn.domainDetachDeviceFlags, [dom, xml, flags], isNegative);
  }

  async blockResize(dom: DomainPtr, disk: string, bytes: number, flags: number): Promise<void> {
    await this.call<number>('virDomainBlockResize', this.fn.domainBlockResize, [dom, disk, bytes, flags], isNegative);
  }

  /** Lifecycle events of every domain here go to `cb` with `opaque`; libvirt's callback id. */
  registerLifecycleEvents(cb: CallbackPtr, opaque: bigint): Promise<number> {
    const args = [this.ptr, null, EVENT_ID_LIFECYCLE, cb, opaque, null];
    return this.call<number>('virConnectDomainEventRegisterAny', this.fn.connectDomainEventRegisterAny, args, isNegative);
  }

  async deregisterEvents(callbackId: number): Promise<void> {
    await this.call<number>('virConnectDomainEventDeregisterAny', this.fn.connectDomainEventDeregisterAny, [this.ptr, callbackId], isNegative);
  }

  /** `cb` hears when libvirt loses this connection (daemon gone, keepalive timeout); one per connection. */
  async registerCloseCallback(cb: CallbackPtr, opaque: bigint): Promise<void> {
    const args = [this.ptr, cb, opaque, null];
    await this.call<number>('virConnectRegisterCloseCallback', this.fn.connectRegisterCloseCallback, args, isNegative);
  }

  async unregisterCloseCallback(cb: CallbackPtr): Promise<void> {
    await this.call<number>('virConnectUnregisterCloseCallback', this.fn.connectUnregisterCloseCallback, [this.ptr, cb], isNegative);
  }

  /**
   * Probe the daemon every `intervalS` and drop the connection after `count`
   * unanswered probes. false where there is no daemon to probe (test:///,
   * VIR_ERR_NO_SUPPORT).
   */
  async setKeepAlive(intervalS: number, count: number): Promise<boolean> {
    try {
      await this.call<number>('virConnectSetKeepAlive', this.fn.connectSetKeepAlive, [this.ptr, intervalS, count], isNegative);
      return true;
    } catch (err) {
      if (isLibvirtCode(err, ErrorNumber.NO_SUPPORT)) return false;
      throw err;
    }
  }

  async setMetadata(dom: DomainPtr, type: number, xml: string, key: string, uri: string, flags: number): Promise<void> {
    await this.call<number>('virDomainSetMetadata', this.fn.domainSetMetadata, [dom, type, xml, key, uri, flags], isNegative);
  }

  /** Domains matching `flags`; the caller frees each (freeDomain). */
  async listDomains(flags: number): Promise<DomainPtr[]> {
    const out: unknown[] = [null];
    const n = await this.call<number>('virConnectListAllDomains', this.fn.connectListAllDomains, [this.ptr, out, flags], isNegative);
    return takeDomainArray(out[0] ?? null, n);
  }

  numOfActiveDomains(): Promise<number> {
    return this.call<number>('virConnectNumOfDomains', this.fn.connectNumOfDomains, [this.ptr], isNegative);
  }

  async nodeInfo(): Promise<NodeInfo> {
    const info: { cpus?: number; memory?: number | bigint } = {};
    await this.call<number>('virNodeGetInfo', this.fn.nodeGetInfo, [this.ptr, info], isNegative);
    return { cpus: info.cpus ?? 0, memoryKiB: toNumber(info.memory ?? 0) };
  }

  hypervisorType(): Promise<string> {
    return this.call<string>('virConnectGetType', this.fn.connectGetType, [this.ptr], isNull);
  }

  async hypervisorVersion(): Promise<number> {
    const v: (number | bigint)[] = [0];
    await this.call<number>('virConnectGetVersion', this.fn.connectGetVersion, [this.ptr, v], isNegative);
    return toNumber(v[0] ?? 0);
  }

  defineSecret(xml: string): Promise<SecretPtr> {
    return this.call<SecretPtr>('virSecretDefineXML', this.fn.secretDefineXML, [this.ptr, xml, 0], isNull);
  }

  /** The secret with that usage, or undefined (VIR_ERR_NO_SECRET). */
  async findSecret(usageType: number, usageId: string): Promise<SecretPtr | undefined> {
    try {
      return await this.call<SecretPtr>('virSecretLookupByUsage', this.fn.secretLookupByUsage, [this.ptr, usageType, usageId], isNull);
    } catch (err) {
      if (isLibvirtCode(err, ErrorNumber.NO_SECRET)) return undefined;
      throw err;
    }
  }

  async setSecretValue(secret: SecretPtr, value: Buffer): Promise<void> {
    await this.call<number>('virSecretSetValue', this.fn.secretSetValue, [secret, value, value.length, 0], isNegative);
  }

  async undefineSecret(secret: SecretPtr): Promise<void> {
    await this.call<number>('virSecretUndefine', this.fn.secretUndefine, [secret], isNegative);
  }

  /** Drop our reference (local bookkeeping, no I/O, so not queued). */
  freeDomain(dom: DomainPtr): void {
    this.fn.domainFree(dom);
  }

  freeSecret(secret: SecretPtr): void {
    this.fn.secretFree(secret);
  }

  /** After every queued call; resolves with the references still held (0 unless something leaked). */
  async close(): Promise<number> {
    if (this.closed) return 0;
    const closing = this.call<number>('virConnectClose', this.fn.connectClose, [this.ptr], isNegative);
    this.closed = true;
    try {
      return await closing;
    } finally {
      this.release();
    }
  }
}

// Opens share the global "unattributed" error slot, so one at a time per process.
let opening: Promise<unknown> = Promise.resolve();

export async function openOne(uri: string): Promise<Connection> {
  const run = async () => {
    takeUnattributedError();
    const ptr = await callAsync<ConnectPtr | null>(libvirt().fn.connectOpen, [uri]);
    if (ptr === null) throw toLibvirtError('virConnectOpen', takeUnattributedError());
    silenceConnection(ptr);
    return new Connection(uri, ptr, retainEventLoop());
  };
  const p = opening.then(run, run);
  opening = p.catch(() => undefined);
  return p;
}
