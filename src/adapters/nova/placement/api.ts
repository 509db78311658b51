/**
 * One typed function per Placement request hostwall makes, each at the
 * microversion nova-compute (Zed) uses for it (nova/scheduler/client/report.py;
 * the captured traffic in test/fixtures/nova-upward/). A function returns the
 * parsed reply, `undefined` where a 404 is an expected answer, and otherwise
 * throws a PlacementError; a 409 generation conflict on a write is
 * GENERATION_CONFLICT, which the caller retries after reading again.
 */
import { z } from 'zod';
import type { PlacementError } from '../../../errors';
import {
  ConsumerAllocations,
  type Inventories,
  InventoriesReply,
  ProviderAllocations,
  ProvidersReply,
  ProviderTraitsReply,
  ResourceProvider,
  TraitsReply,
  VersionsReply,
} from './bodies';
import { expectReply, type PlacementCall, type PlacementReply, type PlacementSession, placementCode, replyError } from './session';

/** Microversions per call, as nova-compute sends them; undefined = no header (1.0). */
export const MICROVERSION = {
  providersInTree: '1.14',
  createProvider: '1.20',
  inventoriesPut: '1.26',
  traits: '1.6',
  consumerAllocations: '1.28',
} as const;
/** The highest of them: a Placement whose max_version is lower cannot serve hostwall. */
export const REQUIRED_MICROVERSION = '1.28';

const Nothing = z.unknown();

export interface ProviderInventories {
  inventories: Inventories;
  generation: number;
}
export interface ProviderTraits {
  traits: string[];
  generation: number;
}

export class PlacementApi {
  constructor(private readonly session: PlacementSession) {}

  private async send(c: PlacementCall): Promise<{ c: PlacementCall; reply: PlacementReply }> {
    return { c, reply: await this.session.call(c) };
  }

  /** GET /: the first version document's range. */
  async versions(): Promise<{ min: string; max: string }> {
    const { c, reply } = await this.send({ method: 'GET', path: '/', anonymous: true });
    const doc = expectReply(c, reply, VersionsReply);
    const v = doc.versions.find((x) => x.status === 'CURRENT') ?? doc.versions[0];
    return { min: v?.min_version ?? '1.0', max: v?.max_version ?? '1.0' };
  }

  async providersInTree(uuid: string, requestId?: string): Promise<ResourceProvider[]> {
    const { c, reply } = await this.send({ method: 'GET', path: `/resource_providers?in_tree=${uuid}`, microversion: MICROVERSION.providersInTree, requestId });
    return expectReply(c, reply, ProvidersReply).resource_providers;
  }

  async providersNamed(name: string, requestId?: string): Promise<ResourceProvider[]> {
    const { c, reply } = await this.send({ method: 'GET', path: `/resource_providers?name=${encodeURIComponent(name)}`, microversion: MICROVERSION.providersInTree, requestId });
    return expectReply(c, reply, ProvidersReply).resource_providers;
  }

  async provider(uuid: string, requestId?: string): Promise<ResourceProvider | undefined> {
    const { c, reply } = await this.send({ method: 'GET', path: `/resource_providers/${uuid}`, microversion: MICROVERSION.providersInTree, requestId });
    return reply.status === 404 ? undefined : expectReply(c, reply, ResourceProvider);
  }

  /**
   * POST /resource_providers (1.20, which returns the provider). A 409 is
   * 'name' when another provider has the name, 'uuid' when this uuid exists
   * already (created concurrently); at 1.20 Placement gives no error code,
   * so the text decides, as in nova.
   */
  async createProvider(uuid: string, name: string, requestId?: string): Promise<ResourceProvider | 'name' | 'uuid'> {
    const { c, reply } = await this.send({ method: 'POST', path: '/resource_providers', microversion: MICROVERSION.createProvider, body: { name, uuid }, requestId });
    if (reply.status === 409) return reply.shownText.includes('Conflicting resource provider name:') ? 'name' : 'uuid';
    return expectReply(c, reply, ResourceProvider);
  }

  /** GET inventories (no microversion, as nova-compute); undefined when the provider is gone. */
  async inventories(uuid: string, requestId?: string): Promise<ProviderInventories | undefined> {
    const { c, reply } = await this.send({ method: 'GET', path: `/resource_providers/${uuid}/inventories`, requestId });
    if (reply.status === 404) return undefined;
    const body = expectReply(c, reply, InventoriesReply);
    return { inventories: body.inventories, generation: body.resource_provider_generation };
  }

  /** PUT the whole inventory at 1.26 (reserved may equal total). 409 placement.inventory.inuse stays an HTTP_ERROR: removing a class still allocated. */
  async putInventories(uuid: string, generation: number, inventories: Inventories, requestId?: string): Promise<ProviderInventories> {
    const c: PlacementCall = {
      method: 'PUT',
      path: `/resource_providers/${uuid}/inventories`,
      microversion: MICROVERSION.inventoriesPut,
      body: { inventories, resource_provider_generation: generation },
      requestId,
    };
    const reply = await this.session.call(c);
    if (reply.status === 409 && !placementCode(reply)?.startsWith('placement.inventory')) throw conflict(c, reply, generation);
    const body = expectReply(c, reply, InventoriesReply);
    return { inventories: body.inventories, generation: body.resource_provider_generation };
  }

  /** GET the provider's traits (1.6); undefined when the provider is gone. */
  async providerTraits(uuid: string, requestId?: string): Promise<ProviderTraits | undefined> {
    const { c, reply } = await this.send({ method: 'GET', path: `/resource_providers/${uuid}/traits`, microversion: MICROVERSION.traits, requestId });
    if (reply.status === 404) return undefined;
    const body = expectReply(c, reply, ProviderTraitsReply);
    return { traits: body.traits, generation: body.resource_provider_generation };
  }

  /** PUT the provider's traits (1.6): any 409 is a generation conflict (1.6 has no error codes; nova reads it so). */
  async putProviderTraits(uuid: string, generation: number, traits: string[], requestId?: string): Promise<ProviderTraits> {
    const c: PlacementCall = { method: 'PUT', path: `/resource_providers/${uuid}/traits`, microversion: MICROVERSION.traits, body: { resource_provider_generation: generation, traits }, requestId };
    const reply = await this.session.call(c);
    if (reply.status === 409) throw conflict(c, reply, generation);
    const body = expectReply(c, reply, ProviderTraitsReply);
    return { traits: body.traits, generation: body.resource_provider_generation };
  }

  /** Which of `names` Placement knows (GET /traits?name=in:..., 1.6). */
  async knownTraits(names: readonly string[], requestId?: string): Promise<string[]> {
    const { c, reply } = await this.send({ method: 'GET', path: `/traits?name=in:${names.join(',')}`, microversion: MICROVERSION.traits, requestId });
    return expectReply(c, reply, TraitsReply).traits;
  }

  /** PUT /traits/CUSTOM_... (1.6): 201 created, 204 already there. */
  async createTrait(name: string, requestId?: string): Promise<void> {
    const { c, reply } = await this.send({ method: 'PUT', path: `/traits/${name}`, microversion: MICROVERSION.traits, requestId });
    expectReply(c, reply, Nothing, [201, 204]);
  }

  async providerAllocations(uuid: string, requestId?: string): Promise<ProviderAllocations> {
    const { c, reply } = await this.send({ method: 'GET', path: `/resource_providers/${uuid}/allocations`, requestId });
    return expectReply(c, reply, ProviderAllocations);
  }

  async consumerAllocations(consumer: string, requestId?: string): Promise<ConsumerAllocations> {
    const { c, reply } = await this.send({ method: 'GET', path: `/allocations/${consumer}`, microversion: MICROVERSION.consumerAllocations, requestId });
    return expectReply(c, reply, ConsumerAllocations);
  }

  /** DELETE /allocations/{consumer} (no microversion, nova's force=True delete): 'absent' on a 404. */
  async deleteConsumerAllocations(consumer: string, requestId?: string): Promise<'deleted' | 'absent'> {
    const { c, reply } = await this.send({ method: 'DELETE', path: `/allocations/${consumer}`, requestId });
    if (reply.status === 404) return 'absent';
    expectReply(c, reply, Nothing, [204]);
    return 'deleted';
  }
}

function conflict(c: PlacementCall, reply: PlacementReply, generation: number): PlacementError {
  return replyError(c, reply, 'PLACEMENT_GENERATION_CONFLICT', `the resource provider changed since generation ${generation} (409 to ${c.method} ${c.path})`);
}
