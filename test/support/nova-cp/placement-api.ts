/**
 * The few Placement reads the harness needs (noauth2: any token). Placement
 * is where a boot's claim lives (the allocation of the server as consumer)
 * and where a compute host's inventory must be before the scheduler can
 * choose it.
 */
import { DEFAULT_HTTP_TIMEOUT_MS, sendJson } from './http';
import { type PollOptions, pollUntil } from './poll';
import { ConsumerAllocations, Inventories, type InventoryMap, ResourceProviderList } from './schemas';

const PLACEMENT_MICROVERSION = '1.28';

export class PlacementApi {
  private readonly headers = { 'X-Auth-Token': 'admin', 'OpenStack-API-Version': `placement ${PLACEMENT_MICROVERSION}` };

  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = DEFAULT_HTTP_TIMEOUT_MS,
  ) {}

  /** GET /allocations/{consumer}; `allocations` is {} when the consumer holds none. */
  async allocations(consumer: string): Promise<ConsumerAllocations> {
    return sendJson({ url: `${this.baseUrl}/allocations/${consumer}`, headers: this.headers, timeoutMs: this.timeoutMs }, [200], ConsumerAllocations);
  }

  /** Polls until `consumer` holds no allocation. */
  async waitAllocationsGone(consumer: string, opts: PollOptions): Promise<void> {
    await pollUntil(
      `the allocations of ${consumer} to be gone`,
      async () => {
        const held = Object.keys((await this.allocations(consumer)).allocations);
        return held.length ? { done: false, seen: `allocations against ${held.join(', ')}` } : { done: true, value: undefined };
      },
      opts,
    );
  }

  /** The uuid of the resource provider named `name`, if there is one. */
  async providerUuid(name: string): Promise<string | undefined> {
    const reply = await sendJson(
      { url: `${this.baseUrl}/resource_providers?name=${encodeURIComponent(name)}`, headers: this.headers, timeoutMs: this.timeoutMs },
      [200],
      ResourceProviderList,
    );
    return reply.resource_providers[0]?.uuid;
  }

  async inventories(providerUuid: string): Promise<InventoryMap> {
    const reply = await sendJson({ url: `${this.baseUrl}/resource_providers/${providerUuid}/inventories`, headers: this.headers, timeoutMs: this.timeoutMs }, [200], Inventories);
    return reply.inventories;
  }
}
