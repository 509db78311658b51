/**
 * The compute node's resource provider kept as the host has it, writing only
 * what differs, as nova-compute's report client does:
 *
 * - ensure: GET ?in_tree=<uuid>; absent → POST. A provider just created is
 *   known to have no inventory and no traits, so the first sync writes
 *   without reading (the first-start capture: POST, PUT inventories, GET
 *   /traits?name=in:..., PUT traits). A 409 on the name is NAME_CONFLICT (a
 *   stale provider of this host name with another uuid: the operator's to
 *   remove); on the uuid, someone created it meanwhile and it is read.
 * - sync: what Placement holds is read (inventories, then traits) unless known
 *   from less than `refreshMs` ago (nova's
 *   [compute] resource_provider_association_refresh, 300 s; 0 = never
 *   re-read), compared, and written only where it differs: a restart with
 *   nothing changed is two GETs, a periodic sync within the refresh nothing.
 *   Every write carries the generation last seen; a 409 conflict forgets what
 *   was known, reads again and redoes the sync, 4 attempts in all (the
 *   resource tracker's retry of _update_to_placement). A provider deleted
 *   behind our back is created again.
 * - traits: those of the spec are added, `absentTraits` removed, any other
 *   trait on the provider kept. Before a write, GET /traits?name=in:<the new
 *   set>; missing CUSTOM_* traits are created, a missing standard trait is
 *   UNKNOWN_TRAIT (this Placement's os-traits is older than hostwall's list).
 *
 * Calls for one provider are serialized; the aggregates nova also reads on a
 * refresh are not (it uses them only to find sharing providers, which
 * hostwall never reports against, and never writes them).
 */
import { PlacementError } from '../../../errors';
import type { Logger } from '../../../log';
import type { PlacementApi } from './api';
import type { Inventories, ParsedProviderSpec, ProviderRef, ResourceProvider } from './bodies';

/** nova's resource tracker: stop_max_attempt_number=4 on ResourceProviderUpdateConflict. */
export const SYNC_ATTEMPTS = 4;

export interface EnsuredProvider extends ResourceProvider {
  /** True when this call created it. */
  created: boolean;
}

export interface SyncResult {
  /** What was written; empty when Placement already held it. */
  changed: Array<'inventories' | 'traits'>;
  generation: number;
}

interface Known {
  generation: number;
  inventories?: Inventories;
  traits?: string[];
  /** When inventories and traits were last read from (or found empty at creation in) Placement. */
  readAt: number;
}
type Complete = Required<Known>;

export class ProviderSync {
  private readonly known = new Map<string, Known>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly api: PlacementApi,
    private readonly log: Logger,
    private readonly refreshMs: number,
    private readonly now: () => number,
  ) {}

  ensure(ref: ProviderRef, requestId?: string): Promise<EnsuredProvider> {
    return this.serial(ref.uuid, () => this.ensureNow(ref, requestId));
  }

  sync(spec: ParsedProviderSpec, requestId?: string): Promise<SyncResult> {
    return this.serial(spec.uuid, async () => {
      const want = desiredInventories(spec.inventories);
      // Across attempts: inventories written by one attempt are still written when a later one finds them equal.
      const changed = new Set<'inventories' | 'traits'>();
      for (let attempt = 1; ; attempt++) {
        try {
          const generation = await this.syncOnce(spec, want, changed, requestId);
          return { changed: [...changed].sort(), generation };
        } catch (err) {
          // After any failure what we knew may be wrong (a write may have happened).
          this.known.delete(spec.uuid);
          if (!(err instanceof PlacementError) || err.code !== 'PLACEMENT_GENERATION_CONFLICT') throw err;
          if (attempt >= SYNC_ATTEMPTS) {
            throw new PlacementError('PLACEMENT_GENERATION_CONFLICT', `resource provider ${spec.uuid} kept changing during ${attempt} attempts to sync it; last: ${err.message}`, { status: err.status, placementCode: err.placementCode });
          }
          this.log.info('placement: resource provider changed meanwhile, reading it again', { rp_uuid: spec.uuid, attempt });
        }
      }
    });
  }

  private async ensureNow(ref: ProviderRef, requestId: string | undefined): Promise<EnsuredProvider> {
    const found = (await this.api.providersInTree(ref.uuid, requestId)).find((p) => p.uuid === ref.uuid);
    if (found) {
      if (found.name !== ref.name) this.log.warn('placement: the resource provider has another name in Placement; kept as it is', { rp_uuid: ref.uuid, name: found.name, host_name: ref.name });
      this.rememberGeneration(ref.uuid, found.generation);
      return { ...found, created: false };
    }
    const made = await this.api.createProvider(ref.uuid, ref.name, requestId);
    if (made === 'name') {
      const holders = await this.api.providersNamed(ref.name, requestId).catch(() => []);
      const other = holders.map((p) => p.uuid).join(', ') || 'another uuid';
      throw new PlacementError(
        'PLACEMENT_NAME_CONFLICT',
        `Placement already has a resource provider named ${JSON.stringify(ref.name)} (${other}), not ${ref.uuid}: a stale provider of this host; remove it (openstack resource provider delete) once it has no allocations`,
        { status: 409, request: 'POST /resource_providers' },
      );
    }
    if (made === 'uuid') {
      const existing = await this.api.provider(ref.uuid, requestId);
      if (!existing) throw new PlacementError('PLACEMENT_HTTP_ERROR', `Placement said resource provider ${ref.uuid} exists (409) but then that it does not (404)`, { status: 404 });
      this.rememberGeneration(ref.uuid, existing.generation);
      return { ...existing, created: false };
    }
    this.known.set(ref.uuid, { generation: made.generation, inventories: {}, traits: [], readAt: this.now() });
    this.log.info('placement: created resource provider', { rp_uuid: ref.uuid, name: ref.name });
    return { ...made, created: true };
  }

  private rememberGeneration(uuid: string, generation: number): void {
    const k = this.known.get(uuid);
    if (k?.generation === generation) return;
    this.known.set(uuid, { generation, readAt: 0 });
  }

  /** One read-compare-write pass; resolves with the generation Placement holds after it. */
  private async syncOnce(spec: ParsedProviderSpec, want: Inventories, changed: Set<'inventories' | 'traits'>, requestId: string | undefined): Promise<number> {
    const uuid = spec.uuid;
    const state = await this.current(spec, requestId);
    const written: string[] = [];
    if (inventoriesDiffer(state.inventories, want)) {
      const put = await this.api.putInventories(uuid, state.generation, want, requestId);
      Object.assign(state, { generation: put.generation, inventories: put.inventories });
      this.known.set(uuid, state);
      changed.add('inventories');
      written.push('inventories');
    }
    const traits = desiredTraits(state.traits, spec);
    if (traitsDiffer(state.traits, traits)) {
      await this.ensureTraitsExist(traits, requestId);
      const put = await this.api.putProviderTraits(uuid, state.generation, traits, requestId);
      Object.assign(state, { generation: put.generation, traits: put.traits });
      this.known.set(uuid, state);
      changed.add('traits');
      written.push('traits');
    }
    if (written.length > 0) this.log.info('placement: resource provider updated', { rp_uuid: uuid, changed: written, generation: state.generation });
    return state.generation;
  }

  /** What Placement holds: known, or read now (creating the provider again if it was deleted). */
  private async current(spec: ParsedProviderSpec, requestId: string | undefined): Promise<Complete> {
    const k = this.known.get(spec.uuid);
    if (k?.inventories !== undefined && k.traits !== undefined && (this.refreshMs === 0 || this.now() - k.readAt < this.refreshMs)) {
      return { generation: k.generation, inventories: k.inventories, traits: k.traits, readAt: k.readAt };
    }
    const readAt = this.now();
    const inv = await this.api.inventories(spec.uuid, requestId);
    if (inv === undefined) {
      this.log.warn('placement: the resource provider is gone from Placement, creating it again', { rp_uuid: spec.uuid });
      const made = await this.ensureNow(spec, requestId);
      const fresh = this.known.get(spec.uuid);
      if (made.created && fresh?.inventories !== undefined && fresh.traits !== undefined) return { ...fresh, inventories: fresh.inventories, traits: fresh.traits };
      // Someone else created it meanwhile: read it again through the conflict retry.
      throw new PlacementError('PLACEMENT_GENERATION_CONFLICT', `resource provider ${spec.uuid} was gone, then back`);
    }
    const traits = await this.api.providerTraits(spec.uuid, requestId);
    if (traits === undefined || traits.generation !== inv.generation) {
      // Changed between the two reads: neither read can be trusted with the other.
      throw new PlacementError('PLACEMENT_GENERATION_CONFLICT', `resource provider ${spec.uuid} changed while it was being read`);
    }
    const state = { generation: traits.generation, inventories: inv.inventories, traits: traits.traits, readAt };
    this.known.set(spec.uuid, state);
    return { ...state };
  }

  private async ensureTraitsExist(traits: string[], requestId: string | undefined): Promise<void> {
    if (traits.length === 0) return;
    const known = new Set(await this.api.knownTraits(traits, requestId));
    const missing = traits.filter((t) => !known.has(t));
    const standard = missing.filter((t) => !t.startsWith('CUSTOM_'));
    if (standard.length > 0) {
      throw new PlacementError('PLACEMENT_UNKNOWN_TRAIT', `Placement does not know the standard trait(s) ${standard.join(', ')} (its os-traits is older); only CUSTOM_* traits can be created`);
    }
    for (const name of missing) await this.api.createTrait(name, requestId);
  }

  private serial<T>(uuid: string, run: () => Promise<T>): Promise<T> {
    const before = this.queues.get(uuid) ?? Promise.resolve();
    const mine = before.then(run, run);
    const tail = mine.catch(() => undefined);
    this.queues.set(uuid, tail);
    void tail.then(() => {
      if (this.queues.get(uuid) === tail) this.queues.delete(uuid);
    });
    return mine;
  }
}

/** The inventory records to hold: nova's defaults filled in, classes of total 0 left out, sorted by class. */
export function desiredInventories(spec: ParsedProviderSpec['inventories']): Inventories {
  const out: Inventories = {};
  for (const rc of Object.keys(spec).sort()) {
    const s = spec[rc];
    if (s === undefined || s.total <= 0) continue;
    out[rc] = { total: s.total, reserved: s.reserved, min_unit: s.min_unit, max_unit: s.max_unit ?? s.total, step_size: s.step_size, allocation_ratio: s.allocation_ratio };
  }
  return out;
}

const FIELDS = ['total', 'reserved', 'min_unit', 'max_unit', 'step_size'] as const;

/** Ratios compare within 1e-6: a database column of single precision must not make every sync a write. */
export function inventoriesDiffer(current: Inventories, want: Inventories): boolean {
  const a = Object.keys(current).sort();
  const b = Object.keys(want).sort();
  if (a.join(',') !== b.join(',')) return true;
  return b.some((rc) => {
    const x = current[rc];
    const y = want[rc];
    if (x === undefined || y === undefined) return true;
    if (FIELDS.some((f) => x[f] !== y[f])) return true;
    return Math.abs(x.allocation_ratio - y.allocation_ratio) > 1e-6 * Math.max(1, Math.abs(y.allocation_ratio));
  });
}

/** The provider's traits after the sync: kept ones (in Placement's order) minus absentTraits, plus the spec's (in its order). */
export function desiredTraits(current: readonly string[], spec: Pick<ParsedProviderSpec, 'traits' | 'absentTraits'>): string[] {
  const drop = new Set([...spec.absentTraits, ...spec.traits]);
  const kept = current.filter((t) => !drop.has(t));
  return [...new Set([...kept, ...spec.traits])];
}

export function traitsDiffer(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size !== y.size || [...y].some((t) => !x.has(t));
}
