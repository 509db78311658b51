/**
 * One instance as Nova's database holds it: the Instance primitive Nova sent
 * (or the conductor returned), kept current with every save's updates, and
 * written back through the conductor as nova-compute writes it.
 *
 * `save` sends the whole primitive with `nova_object.changes` naming only
 * the fields it sets, so the conductor writes those and nothing else; nested
 * objects go without change lists of their own (a stale one would make the
 * conductor write an info cache or a flavor nobody changed). With
 * `expected_task_state`, the database refuses the write if Nova moved the
 * instance on meanwhile (UnexpectedTaskStateError): Nova's change wins.
 *
 * A save that timed out may still have been done. When its retry is refused
 * as unexpected, the record is read back: if the database already holds
 * every value the save set, the first attempt did it and the save succeeded.
 */
import type { Logger } from '../../../log';
import { type ActionResult, type ConductorClient, remoteClass } from '../conductor/conductor-client';
import type { NovaContext } from '../conductor/context';
import { NovaPrimitive, primitive } from '../conductor/primitive';
import { persist } from './persist';

/** A task_state guard as Nova's Instance.save takes it: one state, or any of several (null = no task). */
export type ExpectedTaskState = string | null | readonly (string | null)[];

export interface SaveOptions {
  expectedTaskState?: ExpectedTaskState;
}

/** Nova's DateTimeField on the wire: `2026-12-05T06:44:33Z`. */
export function novaTime(d: Date = new Date()): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

function isPrimitive(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'nova_object.name' in v;
}

/** The data with nested primitives' own change lists removed (see the file header). */
function withoutNestedChanges(data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (isPrimitive(v) && 'nova_object.changes' in v) {
      const { 'nova_object.changes': _dropped, ...rest } = v;
      out[k] = rest;
    } else out[k] = v;
  }
  return out;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface RecordIo {
  conductor: ConductorClient;
  context: NovaContext;
  /** How long a write is retried while the conductor does not answer. */
  deadlineMs: number;
  log: Logger;
  stopped?: () => boolean;
}

export class InstanceRecord {
  private data: Record<string, unknown>;
  private readonly version: string;

  private constructor(p: NovaPrimitive) {
    this.data = { ...p['nova_object.data'] };
    this.version = p['nova_object.version'];
  }

  /** The record from an Instance primitive, or undefined when `raw` is not one (with a uuid). */
  static from(raw: unknown): InstanceRecord | undefined {
    const p = NovaPrimitive.safeParse(raw);
    if (!p.success || p.data['nova_object.name'] !== 'Instance' || typeof p.data['nova_object.data'].uuid !== 'string') return undefined;
    return new InstanceRecord(p.data);
  }

  /** Read it from Nova's database (Instance.get_by_uuid); undefined when Nova has no such instance. */
  static async load(io: RecordIo, uuid: string): Promise<InstanceRecord | undefined> {
    try {
      const raw = await io.conductor.classAction(io.context, 'Instance', 'get_by_uuid', [], { uuid, expected_attrs: [] });
      return InstanceRecord.from(raw);
    } catch (err) {
      if (remoteClass(err) === 'InstanceNotFound') return undefined;
      throw err;
    }
  }

  get uuid(): string {
    return String(this.data.uuid);
  }

  field(name: string): unknown {
    return this.data[name];
  }

  /** The primitive as it stands (for the scheduler's instance info). */
  toPrimitive(): NovaPrimitive {
    return { ...primitive('Instance', withoutNestedChanges(this.data)), 'nova_object.version': this.version };
  }

  /** Instance.save setting `changes`, guarded by `expectedTaskState` if given. */
  async save(io: RecordIo, changes: Record<string, unknown>, o: SaveOptions = {}): Promise<void> {
    const kwargs = o.expectedTaskState !== undefined ? { expected_task_state: o.expectedTaskState } : {};
    await this.act(io, 'save', changes, kwargs, async (err, attempt) => {
      if (attempt === 1 || remoteClass(err) !== 'UnexpectedTaskStateError') return false;
      const now = await InstanceRecord.load(io, this.uuid);
      if (!now || !Object.entries(changes).every(([k, v]) => same(now.data[k], v))) return false;
      io.log.info('an earlier attempt of this Instance.save was done; carrying on', { instance_uuid: this.uuid, fields: Object.keys(changes) });
      this.data = now.data;
      return true;
    });
  }

  /** Instance.destroy (the row is soft-deleted); an instance already gone counts as destroyed. */
  async destroy(io: RecordIo): Promise<void> {
    await this.act(io, 'destroy', {}, {}, async (err) => remoteClass(err) === 'InstanceNotFound');
  }

  private async act(
    io: RecordIo, method: string, changes: Record<string, unknown>, kwargs: Record<string, unknown>,
    alreadyDone: (err: unknown, attempt: number) => Promise<boolean>,
  ): Promise<void> {
    const objinst = { ...primitive('Instance', withoutNestedChanges({ ...this.data, ...changes }), Object.keys(changes)), 'nova_object.version': this.version };
    let result: ActionResult | undefined;
    await persist(async (attempt) => {
      try {
        result = await io.conductor.objectAction(io.context, objinst, method, [], kwargs);
      } catch (err) {
        if (!(await alreadyDone(err, attempt))) throw err;
      }
    }, {
      deadlineMs: io.deadlineMs,
      ...(io.stopped ? { stopped: io.stopped } : {}),
      onRetry: (err, attempt, waitMs) => io.log.warn(`Instance.${method} not answered: trying again`, { instance_uuid: this.uuid, attempt, retry_in_ms: waitMs, error: String(err) }),
    });
    if (result) this.data = result.data;
  }
}
