/**
 * PlacementClient: what the Nova adapter asks of OpenStack Placement for the
 * compute node it registers, with nova-compute's requests (same paths,
 * microversions, bodies; see api.ts) so an unmodified Nova control plane sees
 * the host it expects.
 *
 *   const placement = new PlacementClient(settings, log);
 *   await placement.root();                                  // fails if Placement is too old
 *   await placement.ensureProvider({ uuid, name }, rid);     // uuid = the compute node's uuid
 *   await placement.syncProvider({ uuid, name, inventories, traits }, rid);  // startup and periodic
 *   await placement.deleteConsumerAllocations(instanceUuid, rid);            // on destroy
 *
 * Every method rejects only with a PlacementError (see errors.ts; `retryable`
 * says whether the same call later can succeed) or, for arguments that break
 * the schemas in bodies.ts, a ConfigError. `requestId` is the caller's
 * global request id (`req-<uuid>`), sent as X-Openstack-Request-Id so
 * Placement's log lines carry it. Writes happen only in ensureProvider (a
 * missing provider) and syncProvider (what differs), see provider-sync.ts,
 * and in deleteConsumerAllocations.
 */
import type { z } from 'zod';
import { ConfigError, PlacementError } from '../../../errors';
import type { Logger } from '../../../log';
import { PlacementApi, REQUIRED_MICROVERSION } from './api';
import { placementAuth } from './auth';
import { type ConsumerAllocations, type ProviderAllocations, ProviderRef, ProviderSpec, Uuid } from './bodies';
import { Wire } from './http';
import { type EnsuredProvider, ProviderSync, type SyncResult } from './provider-sync';
import { PlacementSession, type RequestObserver } from './session';
import type { PlacementSettings } from './settings';
import { tlsDispatcher } from './tls';

export interface PlacementClientOptions {
  /** Sees every attempt of every Placement request (not Keystone's), synchronously: tests count writes with it, metrics time calls. */
  observer?: RequestObserver;
  /** nova's [compute] resource_provider_association_refresh, in ms (default 300 s): how long what Placement holds is trusted without reading it again; 0 = until a conflict. */
  refreshMs?: number;
  /** Milliseconds clock for that refresh (tests). */
  now?: () => number;
}

export interface PlacementVersions {
  minVersion: string;
  maxVersion: string;
}

export class PlacementClient {
  private readonly api: PlacementApi;
  private readonly provider: ProviderSync;

  constructor(settings: PlacementSettings, log: Logger, options: PlacementClientOptions = {}) {
    const dispatcher = tlsDispatcher(settings);
    // Surfaced by the first request that awaits it, not as an unhandled rejection now.
    dispatcher.catch(() => undefined);
    // [placement]'s durations are keystoneauth's seconds (settings.ts); compiled to ms here, once.
    const wire = new Wire({ timeoutMs: settings.timeout * 1000, connectRetries: settings.connect_retries, connectRetryDelayMs: settings.connect_retry_delay * 1000, dispatcher });
    const session = new PlacementSession(placementAuth(settings, wire, log), wire, log, options.observer);
    this.api = new PlacementApi(session);
    this.provider = new ProviderSync(this.api, log, options.refreshMs ?? 300_000, options.now ?? Date.now);
  }

  /** GET /: Placement's microversion range; PLACEMENT_TOO_OLD when it stops below what hostwall sends. */
  async root(): Promise<PlacementVersions> {
    const { min, max } = await this.api.versions();
    if (compareVersions(max, REQUIRED_MICROVERSION) < 0 || compareVersions(min, '1.0') > 0) {
      throw new PlacementError('PLACEMENT_TOO_OLD', `Placement serves microversions ${min} to ${max}; hostwall sends 1.0 to ${REQUIRED_MICROVERSION} (as nova-compute of Zed does)`);
    }
    return { minVersion: min, maxVersion: max };
  }

  /** The compute node's resource provider, created when Placement has none with this uuid. */
  async ensureProvider(ref: z.input<typeof ProviderRef>, requestId?: string): Promise<EnsuredProvider> {
    return this.provider.ensure(valid(ProviderRef, ref, 'resource provider'), requestId);
  }

  /**
   * Makes Placement hold exactly `inventories`, and `traits` without
   * `absentTraits` while keeping traits others set (an operator's CUSTOM_*, as
   * nova-compute keeps them), writing only what differs; creates the provider
   * if it is gone. See provider-sync.ts.
   */
  async syncProvider(spec: ProviderSpec, requestId?: string): Promise<SyncResult> {
    return this.provider.sync(valid(ProviderSpec, spec, 'resource provider spec'), requestId);
  }

  /** Every consumer's allocation against this provider, and its generation. */
  async providerAllocations(providerUuid: string, requestId?: string): Promise<ProviderAllocations> {
    return this.api.providerAllocations(valid(Uuid, providerUuid, 'resource provider uuid'), requestId);
  }

  /** One consumer's (an instance's) allocations, per provider, at 1.28; `{allocations: {}}` when it has none. */
  async consumerAllocations(consumerUuid: string, requestId?: string): Promise<ConsumerAllocations> {
    return this.api.consumerAllocations(valid(Uuid, consumerUuid, 'consumer uuid'), requestId);
  }

  /** Removes all of a consumer's allocations (an instance destroyed); 'absent' when it had none (a 404 is done too). */
  async deleteConsumerAllocations(consumerUuid: string, requestId?: string): Promise<'deleted' | 'absent'> {
    return this.api.deleteConsumerAllocations(valid(Uuid, consumerUuid, 'consumer uuid'), requestId);
  }
}

function valid<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ConfigError(`invalid ${what}: ${issue?.path.join('.') || 'value'} ${issue?.message ?? ''}`.trim());
}

/** "1.28" against "1.6": by major, then minor, as numbers. */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}
