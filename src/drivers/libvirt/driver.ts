/**
 * The libvirt Driver: guests on one libvirt URI through a pool of
 * connections (connection.ts), domain XML from domain-xml.ts, device
 * changes in devices.ts.
 *
 * Mutating calls on one instance run one at a time inside the driver too
 * (a per-uuid lane), so a device change's read-modify-write of the domain
 * definition can never interleave with another even if a caller forgets to
 * serialize. Calls on different instances run in parallel up to the number
 * of connections.
 *
 * watch() reports power-state changes nobody asked for (lifecycle-watch.ts);
 * each mutating call tells the watches it started and how it left the guest,
 * so what the driver itself did is not reported as such a change.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DeviceChange, Driver, GuestChange, GuestState, GuestWatch, SpawnOptions, StopSignal, WatchHooks } from '../driver';
import { HostFs } from '../host-fs';
import { HostPathPolicy, hostPathRoots } from '../host-paths';
import { hostUptime } from '../host-uptime';
import { asHostwallError, ConfigError, IntentFailure } from '../../errors';
import type { ConnectionInfo, HostInventory, Port, SpawnArgs } from '../../intents';
import type { Connection } from './connection';
import { consoleSource, consoleText, readConsoleLog } from './console-log';
import * as devices from './devices';
import { type DomainType, domainTypeForUri, instanceDir, type VirtType } from './domain-xml';
import { settleEventLoop } from './event-loop';
import { type DomainPtr, Flags, libvirt } from './ffi';
import { guestState, listGuests } from './guest-state';
import { createGuest, exists, type GuestHost, removeGuest } from './lifecycle';
import { LifecycleWatch, type WatchSettings } from './lifecycle-watch';
import { type GuestFacts, readFacts } from './metadata';
import { ConnectionPool } from './pool';
import * as power from './power';
import type { CallOutcome } from './power-state-tracker';

export interface LibvirtDriverOptions {
  /** libvirt URI. Default test:///default (in-process test driver, shared by every open in the process). */
  uri?: string;
  /** Connections in the pool: the number of libvirt calls in flight. Each in-flight call holds a libuv pool thread (UV_THREADPOOL_SIZE, default 4). Default 4. */
  connections?: number;
  /** Local instance disks live in `<instancesPath>/<uuid>/`; its filesystem is inventory's disk_gb. Default /var/lib/hostwall/instances. */
  instancesPath?: string;
  /** Where NFS exports are mounted (os-brick's nfs_mount_point_base); mounting is not done here. Default /var/lib/hostwall/mnt. */
  nfsMountBase?: string;
  /** Where cached images live (Nova's `$instances_path/_base`): a file root for image.path, and where image.id is looked up (domain-xml.ts cachedImagePath). Default `<instancesPath>/_base`. */
  imageCachePath?: string;
  /** More directories whose files and block devices may back a guest's disk (host-paths.ts). Default /var/lib/hostwall/volumes. */
  hostPathAllow?: readonly string[];
  /** Directories through which block devices may be named (iSCSI, FC, multipath). Default /dev/disk/by-path, /dev/disk/by-id, /dev/mapper. */
  blockDeviceDirs?: readonly string[];
  /** ms a filesystem call on a path a message named may take before the intent fails PATH_TIMEOUT (host-fs.ts). Default 5000. */
  hostPathTimeoutMs?: number;
  /** Told when the driver becomes ready (some libvirt connection live) or not (all lost, reconnecting); pool.ts. */
  onReadyChange?: (ready: boolean, why: string) => void;
  /**
   * ms a hot-unplug (volume.detach, port.unplug) waits for the running guest
   * to release the device, after the ~5 s libvirt waits itself; past it the
   * outcome says live:false (the definition no longer has the device, the
   * guest still does until it answers). The tiny Linux guest of
   * test/integration/qemu-guest.test.ts answers in ~0.3 s under TCG.
   * Default 20000 (Nova's [libvirt] device_detach_timeout); the intent holds
   * its instance's lane meanwhile.
   */
  deviceDetachTimeoutMs?: number;
  /** vhost-user socket directory. Default /var/run/openvswitch. */
  vhostuserSocketDir?: string;
  /** Override the domain type derived from the URI (test, qemu, kvm). */
  domainType?: DomainType;
  /** qemu:// guests: kvm, qemu (TCG) or auto (kvm when /dev/kvm is usable). Default auto. */
  virtType?: VirtType;
  /**
   * Guest CPU mode on qemu/kvm (Nova's cpu_mode). Default: libvirt's default
   * model, which boots everywhere; host-model fails to start under nested
   * KVM that lacks some MSRs (seen on these machines).
   */
  cpuMode?: 'host-model' | 'host-passthrough';
  /**
   * watch(): ms between the listings that catch changes whose events were
   * missed (a daemon restart; the test driver sends none for reboot). Each
   * lists every guest on the watch's own connection: ~7 ms per 1,000 guests
   * (docs/libvirt.md#events). 0 turns them off. Default 60000 (Nova's own power-state
   * sync runs every 600 s).
   */
  watchReconcileMs?: number;
  /**
   * watch(): ms a guest seen shut down is held before it is reported, and
   * dropped if it is running again by then: a reboot done as stop-then-start
   * is not a shutdown. Nova holds 15 s for hypervisors whose guest reboot is
   * a stop and a start; on libvirt/QEMU a guest's own reboot never stops the
   * domain, and an operator's `virsh destroy; virsh start` restarts a TCG
   * guest in ~0.9 s (docs/libvirt.md#measured-figures), so a real shutdown reaches Nova 10 s sooner.
   * Default 5000.
   */
  watchStopDelayMs?: number;
  /**
   * watch(): false drops libvirt's lifecycle events and relies on the
   * listings alone (set watchReconcileMs low then): a fallback for a host
   * where events misbehave. Default true.
   */
  watchEvents?: boolean;
}

const NO_CHANGE: CallOutcome = { unchanged: true, failed: false };
const stateOutcome = (s: GuestState): CallOutcome => ({ state: s });

export class LibvirtDriver implements Driver {
  readonly name = 'libvirt';
  private readonly lanes = new Map<string, Promise<unknown>>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly watches = new Set<LifecycleWatch>();
  private closing: Promise<void> | undefined;
  private readonly devices: devices.DeviceSettings;
  /** References libvirt still held per connection when closed (0 each unless something leaked). */
  leakedReferences: number[] = [];

  constructor(
    private readonly pool: ConnectionPool,
    readonly uri: string,
    private readonly host: GuestHost,
    private readonly watchSettings: WatchSettings = { events: true, reconcileIntervalMs: 60_000, stopDelayMs: 5_000 },
  ) {
    this.devices = { nfsMountBase: host.nfsMountBase, paths: host.paths, vhostuserSocketDir: host.vhostuserSocketDir, hotplug: undefined, detachTimeoutMs: host.detachTimeoutMs };
  }

  /**
   * false while every libvirt connection is lost and being reopened: calls
   * then fail HYPERVISOR_UNAVAILABLE at once (retryable), nothing hangs.
   */
  ready(): boolean {
    return this.pool.ready();
  }

  /** The pool reopened a connection: watches still waiting to reconnect try now (they re-list what changed). */
  regained(): void {
    for (const w of this.watches) w.poke();
  }

  /**
   * Track a call so close() waits for it; refuse new ones once closing. Any
   * non-hostwall error (a filesystem error, a koffi conversion error) leaves
   * as an INTERNAL IntentFailure, never a bare Error.
   */
  private track<T>(work: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new IntentFailure('INTERNAL', 'libvirt driver is closed'));
    // async: a synchronous throw (pick() with no live connection) becomes a rejection too.
    const p = (async () => work())().catch((err: unknown) => {
      throw asHostwallError(err);
    });
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Run `work` after earlier mutating calls on the same instance, telling the
   * watches when it starts and how it leaves the guest (`outcome`).
   */
  private exclusive<T>(uuid: string, work: () => Promise<T>, outcome: (r: T) => CallOutcome = () => NO_CHANGE): Promise<T> {
    const key = uuid.toLowerCase();
    const watched = async () => {
      for (const w of this.watches) w.begin(key);
      try {
        const r = await work();
        for (const w of this.watches) w.end(key, outcome(r));
        return r;
      } catch (err) {
        for (const w of this.watches) w.end(key, { unchanged: true, failed: true });
        throw err;
      }
    };
    return this.track(() => {
      const p = (this.lanes.get(key) ?? Promise.resolve()).then(watched, watched);
      const tail = p.then(() => undefined, () => undefined);
      this.lanes.set(key, tail);
      void tail.then(() => {
        if (this.lanes.get(key) === tail) this.lanes.delete(key);
      });
      return p;
    });
  }

  /** Look the guest up on one connection, run `work`, free the reference. */
  private async withDomain<T>(uuid: string, work: (c: Connection, dom: DomainPtr) => Promise<T>): Promise<T> {
    const c = this.pool.pick();
    const dom = await c.lookupDomain(uuid);
    try {
      return await work(c, dom);
    } finally {
      c.freeDomain(dom);
    }
  }

  private onDomain<T>(uuid: string, work: (c: Connection, dom: DomainPtr) => Promise<T>, outcome?: (r: T) => CallOutcome): Promise<T> {
    return this.exclusive(uuid, () => this.withDomain(uuid, work), outcome);
  }

  /** A power call: its result is the guest's new baseline for the watches. */
  private onPower<T extends GuestState>(uuid: string, work: (c: Connection, dom: DomainPtr) => Promise<T>): Promise<T> {
    return this.onDomain(uuid, work, stateOutcome);
  }

  spawn(spec: SpawnArgs, opts: SpawnOptions): Promise<GuestState> {
    return this.exclusive(spec.instance_uuid, () => createGuest(this.pool.pick(), spec, opts.startPaused, this.host), stateOutcome);
  }

  destroy(uuid: string, opts: { keepDisks: boolean }): Promise<{ existed: boolean }> {
    return this.exclusive(uuid, () => removeGuest(this.pool.pick(), uuid, opts.keepDisks, this.host), () => ({ gone: true }));
  }

  powerOn(uuid: string): Promise<GuestState> {
    return this.onPower(uuid, (c, dom) => power.powerOn(c, dom));
  }

  powerOff(uuid: string, opts: { clean: boolean; timeoutS: number } & StopSignal): Promise<GuestState & { forced: boolean }> {
    return this.onPower(uuid, (c, dom) => power.powerOff(c, dom, opts));
  }

  reboot(uuid: string, type: 'soft' | 'hard'): Promise<GuestState> {
    return this.onPower(uuid, (c, dom) => power.reboot(c, dom, type));
  }

  pause(uuid: string): Promise<GuestState> {
    return this.onPower(uuid, (c, dom) => power.pause(c, dom, uuid));
  }

  unpause(uuid: string): Promise<GuestState> {
    return this.onPower(uuid, (c, dom) => power.unpause(c, dom, uuid));
  }

  suspend(uuid: string): Promise<GuestState> {
    return this.onPower(uuid, (c, dom) => power.suspend(c, dom));
  }

  /** Restore a managed save; also releases a guest paused by spawn(startPaused) or pause(). */
  resume(uuid: string): Promise<GuestState> {
    return this.onPower(uuid, (c, dom) => power.resume(c, dom, uuid));
  }

  /** The volume's host path is checked (host-paths.ts) before the guest is even looked up. */
  attachVolume(uuid: string, vol: { volume_id: string; connection_info: ConnectionInfo; device_name?: string | undefined }): Promise<DeviceChange> {
    return this.exclusive(uuid, async () => {
      const block = await devices.checkVolumePath(this.devices, uuid, vol.connection_info);
      return this.withDomain(uuid, (c, dom) => devices.attachVolume(c, dom, this.devices, vol, block));
    });
  }

  detachVolume(uuid: string, volumeId: string, opts: StopSignal = {}): Promise<DeviceChange> {
    return this.onDomain(uuid, (c, dom) => devices.detachVolume(c, dom, this.devices, volumeId, opts.signal));
  }

  plugPort(uuid: string, port: Port): Promise<DeviceChange> {
    return this.onDomain(uuid, (c, dom) => devices.plugPort(c, dom, this.devices, port));
  }

  unplugPort(uuid: string, portId: string, opts: StopSignal = {}): Promise<DeviceChange> {
    return this.onDomain(uuid, (c, dom) => devices.unplugPort(c, dom, this.devices, portId, opts.signal));
  }

  /** Changes the watch's listing and events show; see Driver.watch and lifecycle-watch.ts. */
  watch(listener: (change: GuestChange) => void, hooks: WatchHooks = {}): GuestWatch {
    if (this.closing) throw new IntentFailure('INTERNAL', 'libvirt driver is closed');
    const w: LifecycleWatch = new LifecycleWatch(this.uri, this.watchSettings, listener, hooks, () => this.watches.delete(w));
    this.watches.add(w);
    return w;
  }

  extendVolume(uuid: string, volumeId: string, newSizeBytes?: number): Promise<DeviceChange> {
    return this.onDomain(uuid, (c, dom) => devices.extendVolume(c, dom, this.devices, uuid, volumeId, newSizeBytes));
  }

  /** NOT_SUPPORTED when the guest has no console log (test-driver guests have none). */
  consoleOutput(uuid: string, tailLength?: number): Promise<string> {
    return this.track(async () => {
      const xml = await this.withDomain(uuid, (c, dom) => c.domainXml(dom, 0));
      const source = consoleSource(xml);
      if (!('path' in source)) {
        throw new IntentFailure('NOT_SUPPORTED', `instance ${uuid} has ${source.missing} to read output from`, { instance_uuid: uuid });
      }
      const use = { instanceUuid: uuid, field: 'the console log' };
      const dir = instanceDir(this.host.instancesPath, uuid);
      const log = await readConsoleLog(source.path, async (p, n) => {
        const real = await this.host.paths.consoleLog(p, dir, use);
        return real === undefined ? undefined : this.host.fs.read(real, -n, n);
      });
      return consoleText(log, tailLength);
    });
  }

  hostUptime(): Promise<string> {
    return this.track(() => hostUptime());
  }

  getState(uuid: string): Promise<GuestState> {
    return this.track(() => this.withDomain(uuid, (c, dom) => guestState(c, dom)));
  }

  /** hostwall's facts recorded in the guest's persistent definition (undefined if it has none). */
  guestFacts(uuid: string): Promise<GuestFacts | undefined> {
    return this.track(() => this.withDomain(uuid, async (c, dom) => readFacts(await c.domainXml(dom, Flags.XML_INACTIVE))));
  }

  /** The guest's XML, persistent definition or running one; without VIR_DOMAIN_XML_SECURE, so no secret values. */
  domainXml(uuid: string, which: 'persistent' | 'live' = 'persistent'): Promise<string> {
    return this.track(() => this.withDomain(uuid, (c, dom) => c.domainXml(dom, which === 'persistent' ? Flags.XML_INACTIVE : 0)));
  }

  listGuests(): Promise<GuestState[]> {
    return this.track(() => listGuests(this.pool.pick()));
  }

  inventory(): Promise<HostInventory> {
    return this.track(async () => {
      const c = this.pool.pick();
      const node = await c.nodeInfo();
      const hypervisorType = await c.hypervisorType();
      const hypervisorVersion = await c.hypervisorVersion();
      const instances = await c.numOfActiveDomains();
      return {
        vcpus: node.cpus,
        memory_mb: Math.floor(node.memoryKiB / 1024),
        disk_gb: await diskGb(this.host.instancesPath),
        instances,
        hypervisor_type: hypervisorType,
        hypervisor_version: hypervisorVersion,
      };
    });
  }

  /**
   * Stops the watches, waits for calls in flight, closes every connection,
   * and, if no other driver still holds it, waits for libvirt's event loop to
   * stop, so the process may exit at once. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await Promise.allSettled([...this.watches].map((w) => w.stop()));
        await Promise.allSettled([...this.inflight]);
        this.leakedReferences = await this.pool.close();
        await this.host.fs.close();
        await settleEventLoop();
      })();
    }
    return this.closing;
  }
}

/** Size of the filesystem holding `p` (or its nearest existing parent), in GiB. */
async function diskGb(p: string): Promise<number> {
  let dir = path.resolve(p);
  while (!(await exists(dir)) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const st = await fs.statfs(dir);
  return Math.floor((Number(st.blocks) * Number(st.bsize)) / 1024 ** 3);
}

export async function openLibvirtDriver(opts: LibvirtDriverOptions = {}): Promise<LibvirtDriver> {
  const uri = opts.uri ?? 'test:///default';
  const size = opts.connections ?? 4;
  if (!Number.isInteger(size) || size < 1) throw new ConfigError(`libvirt connections must be a positive integer, got ${size}`);
  const domainType = opts.domainType ?? domainTypeForUri(uri, await exists('/dev/kvm', fsc.R_OK | fsc.W_OK), opts.virtType);
  const watch: WatchSettings = {
    events: opts.watchEvents ?? true,
    reconcileIntervalMs: opts.watchReconcileMs ?? 60_000,
    stopDelayMs: opts.watchStopDelayMs ?? 5_000,
  };
  const detachTimeoutMs = opts.deviceDetachTimeoutMs ?? 20_000;
  for (const [k, v] of [['watchReconcileMs', watch.reconcileIntervalMs], ['watchStopDelayMs', watch.stopDelayMs], ['deviceDetachTimeoutMs', detachTimeoutMs]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new ConfigError(`libvirt ${k} must be a non-negative number of ms, got ${v}`);
  }
  const timeoutMs = opts.hostPathTimeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigError(`libvirt hostPathTimeoutMs must be a positive integer, got ${timeoutMs}`);
  const roots = hostPathRoots({
    instancesPath: opts.instancesPath ?? '/var/lib/hostwall/instances',
    nfsMountBase: opts.nfsMountBase ?? '/var/lib/hostwall/mnt',
    imageCachePath: opts.imageCachePath,
    allow: opts.hostPathAllow,
    blockDeviceDirs: opts.blockDeviceDirs,
  });
  libvirt();
  let driver: LibvirtDriver | undefined;
  const pool = await ConnectionPool.open(uri, size, { onReadyChange: opts.onReadyChange, onRegained: () => driver?.regained() });
  const hostFs = new HostFs(timeoutMs);
  const host: GuestHost = {
    domainType,
    instancesPath: roots.instancesPath,
    imageCachePath: roots.imageCachePath,
    nfsMountBase: roots.nfsMountBase,
    vhostuserSocketDir: opts.vhostuserSocketDir ?? '/var/run/openvswitch',
    cpuMode: opts.cpuMode,
    detachTimeoutMs,
    fs: hostFs,
    // The test driver never opens a disk: a path it is given need not exist (but must still lie in the roots).
    paths: new HostPathPolicy(roots, hostFs, domainType === 'test'),
  };
  driver = new LibvirtDriver(pool, uri, host, watch);
  return driver;
}
