/**
 * The worker's view of each instance: what the spawn said, what the driver
 * last reported, and the task in progress. Events and Nova payloads are built
 * from it. The hypervisor stays the authority on power state: every outcome
 * refreshes power_state from the driver's answer.
 *
 * Only the book changes an instance: what it lends out is read-only (or a
 * copy), and every change is one of its methods, so what an instance can go
 * through is read here.
 */
import type { InstanceView, IntentRequest } from './instance-view';
import type { Port, PowerState, SpawnArgs, TaskState, VmState } from '../intents';

/** An instance as the book lends it out: read-only, since only the book changes it. */
export type BookedInstance = ReadonlyDeep<InstanceView>;
/** A copy of a lent instance, to publish or keep: the book's later changes do not reach it. */
export const copyOf = (view: BookedInstance): InstanceView => structuredClone(view) as InstanceView;

type ReadonlyDeep<T> = T extends readonly (infer U)[] ? readonly ReadonlyDeep<U>[] : T extends object ? { readonly [K in keyof T]: ReadonlyDeep<T[K]> } : T;

/** Nova's vm_state for a settled power state (what _sync_power_states would conclude). */
export function vmStateFor(power: PowerState): VmState {
  switch (power) {
    case 'running':
      return 'active';
    case 'paused':
      return 'paused';
    case 'suspended':
      return 'suspended';
    case 'shutdown':
      return 'stopped';
    case 'crashed':
      return 'error';
    case 'pending':
      return 'building';
  }
}

/**
 * A device name held for a volume between volume.reserve_device and the
 * volume.attach that uses it (Nova's reserved block device mapping).
 */
export interface Reservation {
  volume_id: string;
  /** Guest target, without /dev/ (vdb). */
  device: string;
  /** When it was made (ms); it lapses after the book's reservation time-to-live. */
  at: number;
}

export interface InstanceBookOptions {
  /**
   * How long a reservation no attach has used is held. Nova's API attaches
   * within seconds of reserving (reserve, Cinder attachment_create, cast);
   * one it never attaches (the API failed in between) must not hold the
   * name forever. Ten minutes by default.
   */
  reservationTtlMs?: number;
  now?: () => number;
}

export class InstanceBook {
  private readonly byUuid = new Map<string, InstanceView>();
  /** instance uuid → volume id → reservation. Kept beside the facts: reservations are never published. */
  private readonly reserved = new Map<string, Map<string, Reservation>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly host: string,
    opts: InstanceBookOptions = {},
  ) {
    this.ttlMs = opts.reservationTtlMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  get(uuid: string): BookedInstance | undefined {
    return this.byUuid.get(uuid);
  }

  /** The view of an instance, created from what little is known if it is new to us. */
  private ensure(uuid: string, name?: string): InstanceView {
    let f = this.byUuid.get(uuid);
    if (!f) {
      f = {
        uuid,
        name: name ?? uuid,
        host: this.host,
        flavor: undefined,
        image_id: undefined,
        metadata: {},
        power_state: 'pending',
        vm_state: 'building',
        task_state: null,
        created_at: undefined,
        launched_at: undefined,
        terminated_at: undefined,
        ports: [],
        volumes: [],
      };
      this.byUuid.set(uuid, f);
    }
    return f;
  }

  /** A spawn starts: record its spec; the instance is building. */
  fromSpawn(spec: SpawnArgs, now: string, request: IntentRequest): BookedInstance {
    const f = this.ensure(spec.instance_uuid, spec.name);
    Object.assign(f, {
      // The spawn's requester owns the instance (Nova's user_id/tenant_id); later requesters may be admins.
      owner: { user_id: request.user_id, project_id: request.project_id },
      name: spec.name,
      flavor: spec.flavor,
      image_id: spec.image?.id,
      metadata: spec.metadata ?? {},
      power_state: 'pending',
      vm_state: 'building',
      created_at: f.created_at ?? now,
      terminated_at: undefined,
      ports: [...(spec.ports ?? [])],
      volumes: (spec.volumes ?? []).map((v) => ({ volume_id: v.volume_id, device: undefined })),
    } satisfies Partial<InstanceView>);
    return f;
  }

  /**
   * The driver reported a power state. While a task runs (a spawn waiting for
   * its ports, say) the vm_state is the task's to settle, so only power moves.
   */
  observe(uuid: string, power: PowerState, name?: string): BookedInstance {
    const f = this.ensure(uuid, name);
    f.power_state = power;
    if (f.task_state === null) f.vm_state = vmStateFor(power);
    return f;
  }

  /** The hypervisor no longer has the guest. Nova only logs that: the vm_state stays until someone deletes it. */
  vanished(uuid: string, name?: string): BookedInstance {
    const f = this.ensure(uuid, name);
    f.power_state = 'pending';
    return f;
  }

  /** An intent that changes the instance starts its task (Nova's task_state); a copy for its `.start` notification. */
  startTask(uuid: string, task: TaskState): InstanceView {
    const f = this.ensure(uuid);
    f.task_state = task;
    return structuredClone(f);
  }

  setTask(uuid: string, task: TaskState): void {
    const f = this.byUuid.get(uuid);
    if (f) f.task_state = task;
  }

  /** The spawn's guest runs (Nova's launched_at). */
  launched(uuid: string, at: string): void {
    const f = this.byUuid.get(uuid);
    if (f) f.launched_at = at;
  }

  /** The guest stopped behind hostwall's back and Nova's power sync would call it stopped. */
  markStopped(uuid: string): void {
    const f = this.byUuid.get(uuid);
    if (f) f.vm_state = 'stopped';
  }

  volumeAttached(uuid: string, volumeId: string, device: string | undefined): void {
    const f = this.byUuid.get(uuid);
    if (f) f.volumes = [...f.volumes.filter((v) => v.volume_id !== volumeId), { volume_id: volumeId, device }];
  }

  volumeDetached(uuid: string, volumeId: string): void {
    const f = this.byUuid.get(uuid);
    if (f) f.volumes = f.volumes.filter((v) => v.volume_id !== volumeId);
  }

  portPlugged(uuid: string, port: Port): void {
    const f = this.byUuid.get(uuid);
    if (f) f.ports = [...f.ports.filter((p) => p.port_id !== port.port_id), port];
  }

  portUnplugged(uuid: string, portId: string): void {
    const f = this.byUuid.get(uuid);
    if (f) f.ports = f.ports.filter((p) => p.port_id !== portId);
  }

  markDeleted(uuid: string, now: string): InstanceView {
    const f = this.ensure(uuid);
    Object.assign(f, { power_state: 'shutdown', vm_state: 'deleted', task_state: null, terminated_at: now });
    this.byUuid.delete(uuid);
    this.reserved.delete(uuid);
    return f;
  }

  markError(uuid: string): void {
    const f = this.byUuid.get(uuid);
    if (f) {
      f.vm_state = 'error';
      f.task_state = null;
    }
  }

  /** A copy for publishing, so later changes don't leak into an event being sent. */
  snapshot(uuid: string): InstanceView | undefined {
    const f = this.byUuid.get(uuid);
    return f ? structuredClone(f) : undefined;
  }

  uuids(): string[] {
    return [...this.byUuid.keys()];
  }

  /** Hold `device` for the volume (replacing an earlier reservation of that volume). */
  reserve(uuid: string, volumeId: string, device: string): Reservation {
    const r: Reservation = { volume_id: volumeId, device, at: this.now() };
    let held = this.reserved.get(uuid);
    if (!held) {
      held = new Map();
      this.reserved.set(uuid, held);
    }
    held.set(volumeId, r);
    return r;
  }

  /** The live reservations of an instance (lapsed ones are dropped here). */
  reservations(uuid: string): Reservation[] {
    const held = this.reserved.get(uuid);
    if (!held) return [];
    const cutoff = this.now() - this.ttlMs;
    for (const [id, r] of held) if (r.at < cutoff) held.delete(id);
    if (held.size === 0) this.reserved.delete(uuid);
    return [...held.values()];
  }

  reservationOf(uuid: string, volumeId: string): Reservation | undefined {
    return this.reservations(uuid).find((r) => r.volume_id === volumeId);
  }

  /** The attach (or detach) of the volume ended its reservation. */
  release(uuid: string, volumeId: string): void {
    const held = this.reserved.get(uuid);
    held?.delete(volumeId);
    if (held?.size === 0) this.reserved.delete(uuid);
  }
}
