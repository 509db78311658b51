/**
 * Defining, starting and removing guests: spawn and destroy of the driver,
 * with their clean-up rules.
 *
 * - spawn leaves nothing half-made: if any step after the first fails, the
 *   domain, the secrets it created and a disk it generated are removed, so a
 *   retried spawn does not meet INSTANCE_EXISTS.
 * - destroy stops, drops a managed save, undefines (with managed save,
 *   snapshot, NVRAM and checkpoint metadata where the hypervisor takes those
 *   flags) and deletes the volume secrets hostwall created; with
 *   keepDisks:false it also removes `<instancesPath>/<uuid>/`.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { GuestState } from '../driver';
import type { HostFs } from '../host-fs';
import type { CheckedPath, HostPathPolicy } from '../host-paths';
import { IntentFailure } from '../../errors';
import type { SpawnArgs } from '../../intents';
import { type Connection, isLibvirtCode } from './connection';
import { volumeHostPath } from './device-xml';
import { buildDomainXml, cachedImagePath, type DomainType, instanceConsoleLogPath, instanceDir, type RootDisk, rootDiskPlan } from './domain-xml';
import { DomainState, type DomainPtr, ErrorNumber, Flags } from './ffi';
import { guestState } from './guest-state';
import { type GuestFacts, readFacts, type SecretUsageType } from './metadata';
import { deleteSecretQuietly, ensureSecret } from './secrets';

/** Host-side settings every guest is built with. */
export interface GuestHost {
  domainType: DomainType;
  instancesPath: string;
  /** Nova's image cache (`<instancesPath>/_base`): a spawn's image.id is looked up there (cachedImagePath). */
  imageCachePath: string;
  nfsMountBase: string;
  vhostuserSocketDir: string;
  cpuMode?: 'host-model' | 'host-passthrough' | undefined;
  /** ms a hot-unplug waits for the guest after libvirt's own wait (devices.ts). */
  detachTimeoutMs: number;
  /** Which host paths may back a disk (host-paths.ts). */
  paths: HostPathPolicy;
  /** Bounded filesystem calls off libuv's pool, for every path a message named (host-fs.ts). */
  fs: HostFs;
}

/** The spawn's host paths, checked (image.path, then each local/file/nfs volume); refused before anything is made. */
interface SpawnPaths {
  image?: CheckedPath | undefined;
  blockVolumes: Set<string>;
}

async function checkSpawnPaths(spec: SpawnArgs, host: GuestHost): Promise<SpawnPaths> {
  const use = (field: string) => ({ instanceUuid: spec.instance_uuid, field });
  const image = spec.image?.path === undefined ? undefined : await host.paths.disk(spec.image.path, 'file', use('image.path'));
  const blockVolumes = new Set<string>();
  for (const [i, v] of (spec.volumes ?? []).entries()) {
    const hp = volumeHostPath(v.connection_info, host.nfsMountBase);
    if (!hp) continue;
    const checked = await host.paths.disk(hp.path, hp.backing, use(`volumes[${i}].${hp.field}`));
    if (checked.backing === 'block') blockVolumes.add(v.volume_id);
  }
  return { image, blockVolumes };
}

export async function exists(p: string, mode = fsc.F_OK): Promise<boolean> {
  return fs.access(p, mode).then(() => true, () => false);
}

/** `p`, with one libvirt error code (e.g. "not running" when stopping) turned into undefined. */
export async function unless<T>(code: number, p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isLibvirtCode(err, code)) return undefined;
    throw err;
  }
}

/**
 * Start, paused if asked. libvirt 9.0's test driver refuses
 * VIR_DOMAIN_START_PAUSED (VIR_ERR_INVALID_ARG, "unsupported flags"): there
 * it starts and is paused straight after, which is indistinguishable since
 * a test-driver guest runs no code.
 */
export async function startGuest(c: Connection, dom: DomainPtr, paused: boolean, domainType: DomainType): Promise<void> {
  if (!paused) {
    await c.domainInt('domainCreateWithFlags', dom, 0);
    return;
  }
  try {
    await c.domainInt('domainCreateWithFlags', dom, Flags.START_PAUSED);
  } catch (err) {
    if (!isLibvirtCode(err, ErrorNumber.INVALID_ARG) || domainType !== 'test') throw err;
    await c.domainInt('domainCreateWithFlags', dom, 0);
    await c.domainInt('domainSuspend', dom);
  }
}

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** raw or qcow2 from the file's header (qcow2 magic "QFI\xfb"), read through host-fs.ts; `fallback` for an empty file. */
async function diskFormat(host: GuestHost, real: string, fallback: RootDisk['format']): Promise<RootDisk['format']> {
  const head = await host.fs.read(real, 0, 4);
  return head?.equals(QCOW2_MAGIC) ? 'qcow2' : head ? 'raw' : fallback;
}

/** The image cache's file for spec.image.id, checked like any disk path; undefined when the cache has none. */
async function cachedImage(spec: SpawnArgs, host: GuestHost): Promise<CheckedPath | undefined> {
  if (spec.image?.id === undefined) return undefined;
  const p = cachedImagePath(host.imageCachePath, spec.image.id);
  if ((await host.fs.probe(p, [host.imageCachePath])).kind === 'missing') return undefined;
  return host.paths.disk(p, 'file', { instanceUuid: spec.instance_uuid, field: `image.id's cached image` });
}

/**
 * A generated root disk, made on a real hypervisor: a copy of the cached
 * image when there is one (Nova's Flat image backend: the copy, grown to
 * root_gb if raw and smaller), else an empty sparse raw file of root_gb.
 * Made under a temporary name and renamed, so a copy cut short (no space, a
 * crash) is never taken for the disk by a retried spawn.
 */
async function createRootDisk(spec: SpawnArgs, host: GuestHost, plan: RootDisk): Promise<RootDisk> {
  await fs.mkdir(path.dirname(plan.path), { recursive: true });
  const base = await cachedImage(spec, host);
  const format = base ? await diskFormat(host, base.real, 'raw') : 'raw';
  const part = `${plan.path}.part`;
  await fs.rm(part, { force: true });
  if (base) await fs.copyFile(base.real, part, fsc.COPYFILE_EXCL);
  const fh = await fs.open(part, base ? 'r+' : 'wx');
  try {
    const want = plan.sizeGb * 1024 ** 3;
    if (format === 'raw' && (await fh.stat()).size < want) await fh.truncate(want);
  } finally {
    await fh.close();
  }
  await fs.rename(part, plan.path);
  return { ...plan, format };
}

/**
 * The root disk, made real where that is honest: on a real hypervisor a
 * generated disk is created (createRootDisk); an image file that exists
 * (checked: a regular file inside the roots) has its format read from its
 * header. The test driver never opens disks, so nothing is created for it.
 */
async function prepareRootDisk(spec: SpawnArgs, host: GuestHost, image: CheckedPath | undefined): Promise<RootDisk | undefined> {
  const plan = rootDiskPlan(spec, host.instancesPath);
  if (!plan) return undefined;
  if (!plan.generated) {
    if (image?.kind !== 'file') return image ? { ...plan, path: image.path } : plan;
    return { ...plan, path: image.path, format: await diskFormat(host, image.real, plan.format) };
  }
  if (host.domainType !== 'test' && !(await exists(plan.path))) return createRootDisk(spec, host, plan);
  return plan;
}

export async function undefineGuest(c: Connection, dom: DomainPtr): Promise<void> {
  const full = Flags.UNDEFINE_MANAGED_SAVE | Flags.UNDEFINE_SNAPSHOTS_METADATA | Flags.UNDEFINE_NVRAM | Flags.UNDEFINE_CHECKPOINTS_METADATA;
  try {
    await c.domainInt('domainUndefineFlags', dom, full);
  } catch (err) {
    // The test driver refuses the NVRAM/checkpoint flags (VIR_ERR_INVALID_ARG).
    if (!isLibvirtCode(err, ErrorNumber.INVALID_ARG)) throw err;
    await c.domainInt('domainUndefineFlags', dom, Flags.UNDEFINE_MANAGED_SAVE | Flags.UNDEFINE_SNAPSHOTS_METADATA);
  }
}

export async function createGuest(c: Connection, spec: SpawnArgs, startPaused: boolean, host: GuestHost): Promise<GuestState> {
  const paths = await checkSpawnPaths(spec, host);
  const existing = await c.findDomain(spec.instance_uuid);
  if (existing) {
    c.freeDomain(existing);
    throw new IntentFailure('INSTANCE_EXISTS', `instance ${spec.instance_uuid} is already defined`, { instance_uuid: spec.instance_uuid });
  }
  // A real guest's console log goes in its instance directory, which must exist before it starts.
  const dir = instanceDir(host.instancesPath, spec.instance_uuid);
  const real = host.domainType !== 'test';
  const madeDir = real && !(await exists(dir));
  if (madeDir) await fs.mkdir(dir, { recursive: true });
  const rootDisk = await prepareRootDisk(spec, host, paths.image);
  const consoleLog = real ? instanceConsoleLogPath(host.instancesPath, spec.instance_uuid) : undefined;
  const built = buildDomainXml(spec, { ...host, rootDisk, consoleLog, blockVolumes: paths.blockVolumes });
  const createdSecrets: { usageType: SecretUsageType; usageId: string }[] = [];
  let dom: DomainPtr | undefined;
  try {
    for (const s of built.secrets) if ((await ensureSecret(c, s)).created) createdSecrets.push(s);
    dom = await c.defineDomain(built.xml);
    await startGuest(c, dom, startPaused, host.domainType);
    return await guestState(c, dom);
  } catch (err) {
    if (dom) await unless(ErrorNumber.NO_DOMAIN, undefineGuest(c, dom)).catch(() => undefined);
    for (const s of createdSecrets) await deleteSecretQuietly(c, s.usageType, s.usageId);
    if (rootDisk?.generated || madeDir) await fs.rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    if (dom) c.freeDomain(dom);
  }
}

export async function removeGuest(c: Connection, uuid: string, keepDisks: boolean, host: GuestHost): Promise<{ existed: boolean }> {
  const dom = await c.findDomain(uuid);
  if (!dom) return { existed: false };
  let facts: GuestFacts | undefined;
  try {
    facts = readFacts(await c.domainXml(dom, Flags.XML_INACTIVE));
    if ((await c.domainState(dom)) !== DomainState.SHUTOFF) await unless(ErrorNumber.OPERATION_INVALID, c.domainInt('domainDestroy', dom));
    // A transient guest is gone once destroyed: NO_DOMAIN from here on is success.
    await unless(
      ErrorNumber.NO_DOMAIN,
      (async () => {
        if ((await c.domainInt('domainHasManagedSaveImage', dom, 0)) === 1) await c.domainInt('domainManagedSaveRemove', dom, 0);
        if ((await c.domainInt('domainIsPersistent', dom)) === 1) await undefineGuest(c, dom);
      })(),
    );
  } finally {
    c.freeDomain(dom);
  }
  for (const v of facts?.volumes ?? []) if (v.secret) await deleteSecretQuietly(c, v.secret.usage_type, v.secret.usage_id);
  if (!keepDisks) await fs.rm(instanceDir(host.instancesPath, uuid), { recursive: true, force: true });
  return { existed: true };
}
