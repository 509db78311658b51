/**
 * Placement's bodies as hostwall reads and writes them, at the microversions
 * nova-compute uses (see api.ts), and the shapes the Nova adapter hands in.
 * Replies are parsed with these schemas: anything else is a BAD_REPLY, never a
 * crash further on. Unknown fields (links, ...) are let through and dropped.
 */
import { z } from 'zod';

export const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a lowercase, dashed uuid');
/** Resource class and trait names: Placement's own pattern. */
const UpperName = z.string().regex(/^[A-Z0-9_]+$/, 'must be upper-case letters, digits and _').max(255);
const Count = z.number().int().min(0);
const Generation = z.number().int().min(0);

// ---- replies ----

/** GET / (no microversion): the version document. */
export const VersionsReply = z.object({
  versions: z.array(z.object({ id: z.string(), min_version: z.string(), max_version: z.string(), status: z.string().optional() })).min(1),
});

/** A resource provider as GET /resource_providers (1.14) and POST (1.20) show it. */
export const ResourceProvider = z.object({
  uuid: z.string(),
  name: z.string(),
  generation: Generation,
  parent_provider_uuid: z.string().nullish(),
  root_provider_uuid: z.string().nullish(),
});
export type ResourceProvider = z.output<typeof ResourceProvider>;

export const ProvidersReply = z.object({ resource_providers: z.array(ResourceProvider) });

/** One inventory record: every field Placement keeps, all six always present in its replies. */
export const InventoryRecord = z.object({
  total: Count,
  reserved: Count,
  min_unit: Count,
  max_unit: Count,
  step_size: Count,
  allocation_ratio: z.number().positive(),
});
export type InventoryRecord = z.output<typeof InventoryRecord>;
export type Inventories = Record<string, InventoryRecord>;

/** GET and PUT /resource_providers/{uuid}/inventories. */
export const InventoriesReply = z.object({ inventories: z.record(z.string(), InventoryRecord), resource_provider_generation: Generation });

/** GET and PUT /resource_providers/{uuid}/traits (1.6). */
export const ProviderTraitsReply = z.object({ traits: z.array(z.string()), resource_provider_generation: Generation });

/** GET /traits?name=in:... (1.6): which of the names Placement knows. */
export const TraitsReply = z.object({ traits: z.array(z.string()) });

const Resources = z.record(z.string(), Count);

/** GET /resource_providers/{uuid}/allocations (no microversion): consumer uuid → its resources here. */
export const ProviderAllocations = z.object({
  allocations: z.record(z.string(), z.object({ resources: Resources })),
  resource_provider_generation: Generation,
});
export type ProviderAllocations = z.output<typeof ProviderAllocations>;

/**
 * GET /allocations/{consumer} (1.28): provider uuid → resources. A consumer
 * without allocations comes back as `{"allocations": {}}` and nothing else.
 */
export const ConsumerAllocations = z.object({
  allocations: z.record(z.string(), z.object({ generation: Generation.optional(), resources: Resources })),
  consumer_generation: Generation.nullish(),
  project_id: z.string().optional(),
  user_id: z.string().optional(),
});
export type ConsumerAllocations = z.output<typeof ConsumerAllocations>;

/** Placement's error body; `code` only from microversion 1.23 on. */
export const PlacementErrorBody = z.object({
  errors: z.array(z.object({ status: z.number().optional(), title: z.string().optional(), detail: z.string().optional(), code: z.string().optional() })).min(1),
});

// ---- what the Nova adapter hands in ----

export const ProviderRef = z.object({ uuid: Uuid, name: z.string().min(1).max(200) });
export type ProviderRef = z.output<typeof ProviderRef>;

/**
 * What the host offers of one resource class, nova's defaults filled in. A
 * class with `total` 0 is left out of the inventory (Placement refuses a
 * record of 0, and nova's drivers omit such a class).
 */
export const InventorySpec = z.object({
  total: Count,
  reserved: Count.default(0),
  min_unit: z.number().int().min(1).default(1),
  /** Default: total. */
  max_unit: z.number().int().min(1).optional(),
  step_size: z.number().int().min(1).default(1),
  allocation_ratio: z.number().positive().default(1),
});

export const ProviderSpec = ProviderRef.extend({
  /** The provider's whole inventory: a class not listed is removed. */
  inventories: z.record(UpperName, InventorySpec),
  /** Traits the provider must have; CUSTOM_* ones Placement lacks are created. */
  traits: z.array(UpperName).max(1000),
  /**
   * Traits it must not have. Any other trait already on the provider (an
   * operator's CUSTOM_GOLD, say) is kept, as nova-compute's resource tracker
   * keeps traits it does not own.
   */
  absentTraits: z.array(UpperName).max(1000).default([]),
});
export type ProviderSpec = z.input<typeof ProviderSpec>;
export type ParsedProviderSpec = z.output<typeof ProviderSpec>;
