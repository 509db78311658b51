/**
 * The Placement client against Debian's real Placement (python3-placement,
 * served by test/support/placement-server.ts: SQLite, noauth2, admin_token
 * auth as the reference control plane uses), held to the traffic a real
 * nova-compute made (test/fixtures/nova-upward/, copied from
 * test/fixtures/nova-upward/): the same requests, microversions and bodies on a
 * first start, reads only on a restart. Every test uses providers of its own.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlacementClient, type PlacementClientOptions } from '../../src/adapters/nova/placement/client';
import type { RequestEvent } from '../../src/adapters/nova/placement/session';
import { placementSettingsFromIni } from '../../src/adapters/nova/placement/settings';
import { PlacementError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { type PlacementServer, startPlacement } from '../support/placement-server';

/** Not under test/fixtures/nova/: every JSON there is read as a compute RPC fixture (nova-capture-fixtures.ts). */
const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'nova-upward');

interface Captured {
  group: string;
  method: string;
  path: string;
  path_template: string;
  req_headers: Record<string, string>;
  req_body: unknown;
}

const capture = (file: string) => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Captured[];
const FIRST = capture('placement_compute.json');
const RESTART = capture(join('restart', 'placement_compute.json'));

/** The captured requests of the provider's start-up: ensure + sync. The resource tracker's allocation reads and the version GET are other calls. */
function startupSync(c: Captured[]) {
  return c
    .filter((r) => r.group === 'startup' && r.path !== '/' && !r.path_template.endsWith('/allocations'))
    .map((r) => ({ method: r.method, path: r.path, microversion: r.req_headers['OpenStack-API-Version']?.replace('placement ', ''), body: r.req_body ?? undefined }));
}

const log = createLogger({ level: 'error', format: 'json' });

describe('placement client against Debian\'s Placement', function () {
  this.timeout(60_000);
  let placement: PlacementServer;

  before(async () => {
    placement = await startPlacement();
  });
  after(async () => {
    await placement?.stop();
  });

  function client(events: RequestEvent[] = [], opts: PlacementClientOptions = {}) {
    const { settings } = placementSettingsFromIni({ auth_type: 'admin_token', endpoint_override: placement.url, token: placement.adminToken });
    return new PlacementClient(settings, log, { observer: (e) => events.push(e), ...opts });
  }
  const calls = (events: RequestEvent[]) => events.map((e) => ({ method: e.method, path: e.path, microversion: e.microversion, body: e.body }));
  const writes = (events: RequestEvent[]) => events.filter((e) => e.method !== 'GET');

  /** Placement as an operator or the scheduler sees it, with the admin token. */
  async function raw(method: string, path: string, microversion: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${placement.url}${path}`, {
      method,
      headers: { 'X-Auth-Token': 'admin', 'OpenStack-API-Version': `placement ${microversion}`, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  }

  const spec = (uuid: string, name: string) => ({
    uuid,
    name,
    inventories: {
      VCPU: { total: 2, allocation_ratio: 16 },
      MEMORY_MB: { total: 8192, reserved: 512, allocation_ratio: 1.5 },
      DISK_GB: { total: 1028 },
    },
    traits: ['COMPUTE_NODE', 'COMPUTE_NET_ATTACH_INTERFACE'],
  });

  describe('the captured start-up of nova-compute', () => {
    // The capture's own provider, inventories and traits, read from its request bodies.
    const put = (c: Captured[], template: string) => c.find((r) => r.method === 'PUT' && r.path_template === template)?.req_body as Record<string, unknown>;
    const created = FIRST.find((r) => r.method === 'POST')?.req_body as { uuid: string; name: string };
    const capturedSpec = {
      uuid: created.uuid,
      name: created.name,
      inventories: put(FIRST, '/resource_providers/{rp_uuid}/inventories')['inventories'] as Record<string, { total: number }>,
      traits: put(FIRST, '/resource_providers/{rp_uuid}/traits')['traits'] as string[],
    };
    const rid = 'req-abbae2d1-437f-488c-9356-498d0596223c';

    it('first start: creates the provider, its inventories and traits with the captured requests and bodies', async () => {
      const events: RequestEvent[] = [];
      const c = client(events);
      const versions = await c.root();
      expect(versions.maxVersion).to.equal('1.39');
      events.length = 0;
      const provider = await c.ensureProvider(capturedSpec, rid);
      expect(provider).to.include({ uuid: capturedSpec.uuid, name: capturedSpec.name, generation: 0, created: true });
      const result = await c.syncProvider(capturedSpec, rid);
      expect(result).to.deep.equal({ changed: ['inventories', 'traits'], generation: 2 });
      expect(calls(events)).to.deep.equal(startupSync(FIRST));
      const inv = await raw('GET', `/resource_providers/${capturedSpec.uuid}/inventories`, '1.26');
      expect(inv.body).to.deep.equal({ inventories: capturedSpec.inventories, resource_provider_generation: 2 });
    });

    it('restart with nothing changed: reads only, the captured reads but the aggregates', async () => {
      const events: RequestEvent[] = [];
      const c = client(events);
      await c.ensureProvider(capturedSpec, rid);
      expect(await c.syncProvider(capturedSpec, rid)).to.deep.equal({ changed: [], generation: 2 });
      const expected = startupSync(RESTART).filter((r) => !r.path.endsWith('/aggregates'));
      expect(startupSync(RESTART).length - expected.length, 'only the aggregates read is left out').to.equal(1);
      expect(calls(events)).to.deep.equal(expected);
      expect(writes(events)).to.deep.equal([]);
    });
  });

  it('a second sync within the refresh interval makes no request; after it, reads only', async () => {
    let now = 1_000_000;
    const events: RequestEvent[] = [];
    const c = client(events, { now: () => now, refreshMs: 300_000 });
    const s = spec(randomUUID(), `host-${randomUUID()}`);
    await c.ensureProvider(s);
    await c.syncProvider(s);
    events.length = 0;
    expect(await c.syncProvider(s)).to.deep.include({ changed: [] });
    expect(events).to.deep.equal([]);
    now += 301_000;
    expect(await c.syncProvider(s)).to.deep.include({ changed: [] });
    expect(events.map((e) => `${e.method} ${e.path}`)).to.deep.equal([`GET /resource_providers/${s.uuid}/inventories`, `GET /resource_providers/${s.uuid}/traits`]);
  });

  it('writes a changed inventory alone, and changed traits alone, keeping an operator\'s trait', async () => {
    const events: RequestEvent[] = [];
    const c = client(events);
    const s = spec(randomUUID(), `host-${randomUUID()}`);
    await c.ensureProvider(s);
    await c.syncProvider(s);
    expect((await raw('PUT', '/traits/CUSTOM_OPERATOR_GOLD', '1.6')).status).to.be.oneOf([201, 204]);
    const now = (await raw('GET', `/resource_providers/${s.uuid}/traits`, '1.6')).body as { resource_provider_generation: number; traits: string[] };
    await raw('PUT', `/resource_providers/${s.uuid}/traits`, '1.6', { resource_provider_generation: now.resource_provider_generation, traits: [...now.traits, 'CUSTOM_OPERATOR_GOLD'] });

    events.length = 0;
    const bigger = { ...s, inventories: { ...s.inventories, MEMORY_MB: { total: 16384, reserved: 1024, allocation_ratio: 1.5 } } };
    const fresh = client(events); // a restart: nothing known
    await fresh.ensureProvider(bigger);
    expect((await fresh.syncProvider(bigger)).changed).to.deep.equal(['inventories']);
    expect(writes(events).map((e) => [e.method, e.path, e.body])).to.deep.equal([
      [
        'PUT',
        `/resource_providers/${s.uuid}/inventories`,
        {
          inventories: {
            DISK_GB: { total: 1028, reserved: 0, min_unit: 1, max_unit: 1028, step_size: 1, allocation_ratio: 1 },
            MEMORY_MB: { total: 16384, reserved: 1024, min_unit: 1, max_unit: 16384, step_size: 1, allocation_ratio: 1.5 },
            VCPU: { total: 2, reserved: 0, min_unit: 1, max_unit: 2, step_size: 1, allocation_ratio: 16 },
          },
          resource_provider_generation: 3,
        },
      ],
    ]);

    events.length = 0;
    const retraited = { ...bigger, traits: ['COMPUTE_NODE', 'CUSTOM_HOSTWALL_TEST'], absentTraits: ['COMPUTE_NET_ATTACH_INTERFACE'] };
    expect((await fresh.syncProvider(retraited)).changed).to.deep.equal(['traits']);
    expect(events.map((e) => `${e.method} ${e.path} ${e.status}`)).to.deep.equal([
      'GET /traits?name=in:CUSTOM_OPERATOR_GOLD,COMPUTE_NODE,CUSTOM_HOSTWALL_TEST 200',
      'PUT /traits/CUSTOM_HOSTWALL_TEST 201',
      `PUT /resource_providers/${s.uuid}/traits 200`,
    ]);
    const after = (await raw('GET', `/resource_providers/${s.uuid}/traits`, '1.6')).body as { traits: string[] };
    expect([...after.traits].sort()).to.deep.equal(['COMPUTE_NODE', 'CUSTOM_HOSTWALL_TEST', 'CUSTOM_OPERATOR_GOLD']);
  });

  it('retries a write after someone else bumped the generation: 409, read again, write', async () => {
    const events: RequestEvent[] = [];
    const c = client(events);
    const s = spec(randomUUID(), `host-${randomUUID()}`);
    await c.ensureProvider(s);
    await c.syncProvider(s); // what it knows now is generation 2
    const aggregates = (await raw('GET', `/resource_providers/${s.uuid}/aggregates`, '1.19')).body as { resource_provider_generation: number };
    const bump = await raw('PUT', `/resource_providers/${s.uuid}/aggregates`, '1.19', { aggregates: [randomUUID()], resource_provider_generation: aggregates.resource_provider_generation });
    expect(bump.status).to.equal(200);

    events.length = 0;
    const changed = { ...s, inventories: { ...s.inventories, DISK_GB: { total: 2000 } } };
    expect(await c.syncProvider(changed)).to.deep.equal({ changed: ['inventories'], generation: 4 });
    expect(events.map((e) => `${e.method} ${e.path.split('/').pop()} ${e.status}`)).to.deep.equal(['PUT inventories 409', 'GET inventories 200', 'GET traits 200', 'PUT inventories 200']);
    expect(events.filter((e) => e.method === 'PUT').map((e) => (e.body as { resource_provider_generation: number }).resource_provider_generation)).to.deep.equal([2, 3]);
  });

  it('creates the provider again when it was deleted behind its back', async () => {
    const events: RequestEvent[] = [];
    const c = client(events);
    const s = spec(randomUUID(), `host-${randomUUID()}`);
    await c.ensureProvider(s);
    await c.syncProvider(s);
    expect((await raw('DELETE', `/resource_providers/${s.uuid}`, '1.14')).status).to.equal(204);
    const later = client(events);
    events.length = 0;
    expect((await later.syncProvider(s)).changed).to.deep.equal(['inventories', 'traits']);
    expect(events.slice(0, 3).map((e) => `${e.method} ${e.path.split('?')[0]} ${e.status}`)).to.deep.equal([
      `GET /resource_providers/${s.uuid}/inventories 404`,
      'GET /resource_providers 200',
      'POST /resource_providers 200',
    ]);
  });

  it('reads and deletes an instance\'s allocation the scheduler made', async () => {
    const c = client();
    const s = spec(randomUUID(), `host-${randomUUID()}`);
    await c.ensureProvider(s);
    await c.syncProvider(s);
    const instance = randomUUID();
    // As the scheduler claims (PUT /allocations/<consumer> at 1.28, consumer_generation null for a new consumer).
    const claim = await raw('PUT', `/allocations/${instance}`, '1.28', {
      allocations: { [s.uuid]: { resources: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } } },
      consumer_generation: null,
      project_id: 'admin',
      user_id: 'admin',
    });
    expect(claim.status).to.equal(204);

    const byProvider = await c.providerAllocations(s.uuid);
    expect(byProvider.allocations).to.deep.equal({ [instance]: { resources: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } } });
    const byConsumer = await c.consumerAllocations(instance);
    expect(byConsumer).to.deep.include({ consumer_generation: 1, project_id: 'admin', user_id: 'admin' });
    expect(byConsumer.allocations[s.uuid]?.resources).to.deep.equal({ VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });

    expect(await c.deleteConsumerAllocations(instance, 'req-46eda434-bb7a-4a34-8fe8-b92b0d1db4bb')).to.equal('deleted');
    expect(await c.deleteConsumerAllocations(instance)).to.equal('absent');
    expect(await c.consumerAllocations(instance)).to.deep.equal({ allocations: {} });
    expect((await c.providerAllocations(s.uuid)).allocations).to.deep.equal({});
  });

  it('will not remove an inventory class that is still allocated: HTTP_ERROR, not retried', async () => {
    const events: RequestEvent[] = [];
    const c = client(events);
    const s = spec(randomUUID(), `host-${randomUUID()}`);
    await c.ensureProvider(s);
    await c.syncProvider(s);
    await raw('PUT', `/allocations/${randomUUID()}`, '1.28', { allocations: { [s.uuid]: { resources: { DISK_GB: 1 } } }, consumer_generation: null, project_id: 'p', user_id: 'u' });
    const restarted = client(events); // knows the generation the allocation left
    await restarted.ensureProvider(s);
    events.length = 0;
    const { DISK_GB: _gone, ...rest } = s.inventories;
    const err = await restarted.syncProvider({ ...s, inventories: rest }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PlacementError);
    expect(err).to.include({ code: 'PLACEMENT_HTTP_ERROR', status: 409, placementCode: 'placement.inventory.inuse' });
    expect(events.filter((e) => e.method === 'PUT')).to.have.length(1);
  });

  it('says which stale provider holds the host name', async () => {
    const name = `host-${randomUUID()}`;
    const stale = randomUUID();
    await client().ensureProvider({ uuid: stale, name });
    const err = await client().ensureProvider({ uuid: randomUUID(), name }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PlacementError);
    expect(err).to.include({ code: 'PLACEMENT_NAME_CONFLICT' });
    expect(String((err as Error).message)).to.contain(stale).and.contain(JSON.stringify(name));
  });

  it('refuses a standard trait this Placement does not know, writing no traits', async () => {
    const events: RequestEvent[] = [];
    const c = client(events);
    const s = { ...spec(randomUUID(), `host-${randomUUID()}`), traits: ['COMPUTE_NODE', 'COMPUTE_FROM_THE_FUTURE'] };
    await c.ensureProvider(s);
    const err = await c.syncProvider(s).catch((e: unknown) => e);
    expect(err).to.include({ code: 'PLACEMENT_UNKNOWN_TRAIT' });
    expect(String((err as Error).message)).to.contain('COMPUTE_FROM_THE_FUTURE');
    expect(events.filter((e) => e.path.includes('/traits') && e.method === 'PUT')).to.deep.equal([]);
  });
});
