/**
 * The Placement client against a local node:http server playing a
 * misbehaving Placement (what the real one never does on demand): dropped
 * connections, silence, HTML error pages, bodies of the wrong shape,
 * generation conflicts that never end. Every case must end in a clear
 * PlacementError, retried only where that is safe.
 */
import { expect } from 'chai';
import { createServer } from 'node:net';
import type { ServerResponse } from 'node:http';
import { PlacementClient } from '../../src/adapters/nova/placement/client';
import { SYNC_ATTEMPTS } from '../../src/adapters/nova/placement/provider-sync';
import type { RequestEvent } from '../../src/adapters/nova/placement/session';
import { placementSettingsFromIni } from '../../src/adapters/nova/placement/settings';
import { createLogger } from '../../src/log';
import { type FakeHttp, json, type Seen, startFakeHttp } from '../support/fake-http';
import { placementFailure } from '../support/placement-failure';

const RP = '14c3ea28-784d-420d-a399-c71e699f198f';
const log = createLogger({ level: 'error', format: 'json' });

type Route = (req: Seen, res: ServerResponse) => void;

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

describe('placement client: failures and bad replies (local Placement stand-in)', () => {
  let server: FakeHttp;
  let route: Route;
  let events: RequestEvent[];

  before(async () => {
    server = await startFakeHttp((req, res) => route(req, res));
  });
  after(() => server.close());
  beforeEach(() => {
    server.seen.length = 0;
    events = [];
  });

  const client = (extra: Record<string, string> = {}, url = server.url) =>
    new PlacementClient(placementSettingsFromIni({ auth_type: 'admin_token', endpoint: url, token: 'admin', connect_retry_delay: '0', ...extra }).settings, log, { observer: (e) => events.push(e) });

  it('retries a GET whose connection was reset, and answers', async () => {
    route = (_req, res) => (server.seen.length === 1 ? res.socket?.destroy() : json(res, 200, { allocations: {}, resource_provider_generation: 1 }));
    const allocations = await client().providerAllocations(RP);
    expect(allocations.resource_provider_generation).to.equal(1);
    expect(events.map((e) => e.failure ?? e.status)).to.deep.equal(['reset', 200]);
  });

  it('does not repeat a PUT whose connection was reset: the server may have acted', async () => {
    route = (req, res) => {
      if (req.url.includes('in_tree')) return json(res, 200, { resource_providers: [{ uuid: RP, name: 'h', generation: 0 }] });
      if (req.method === 'GET' && req.url.endsWith('/inventories')) return json(res, 200, { inventories: {}, resource_provider_generation: 0 });
      if (req.method === 'GET' && req.url.endsWith('/traits')) return json(res, 200, { traits: [], resource_provider_generation: 0 });
      res.socket?.destroy();
    };
    const c = client();
    await c.ensureProvider({ uuid: RP, name: 'h' });
    const err = await placementFailure(c.syncProvider({ uuid: RP, name: 'h', inventories: { VCPU: { total: 1 } }, traits: [] }));
    expect(err.code).to.equal('PLACEMENT_UNREACHABLE');
    expect(err.retryable).to.equal(true);
    expect(events.filter((e) => e.method === 'PUT').map((e) => e.failure)).to.deep.equal(['reset']);
  });

  it('repeats any request on a refused connection, connect_retries times', async () => {
    const err = await placementFailure(client({ connect_retries: '2' }, `http://127.0.0.1:${await closedPort()}`).deleteConsumerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_UNREACHABLE');
    expect(err.message).to.contain('ECONNREFUSED').and.contain('(3 attempts)');
    expect(events.map((e) => e.failure)).to.deep.equal(['refused', 'refused', 'refused']);
  });

  it('bounds every attempt by the timeout, the body too', async () => {
    route = () => undefined; // never answers
    const silent = await placementFailure(client({ timeout: '0.2', connect_retries: '1' }).providerAllocations(RP));
    expect(silent.code).to.equal('PLACEMENT_UNREACHABLE');
    expect(silent.message).to.contain('no reply within 0.2 s');
    expect(events.map((e) => e.failure)).to.deep.equal(['timeout', 'timeout']);
    route = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"allocations": {');
    };
    events = [];
    const stalled = await placementFailure(client({ timeout: '0.2', connect_retries: '0' }).providerAllocations(RP));
    expect(stalled.message).to.contain('no reply within 0.2 s');
  });

  it('turns an HTML 500 into an HTTP_ERROR with the page\'s text, no markup', async () => {
    route = (_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/html' });
      res.end('<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>');
    };
    const err = await placementFailure(client().consumerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_HTTP_ERROR');
    expect(err.status).to.equal(500);
    expect(err.retryable).to.equal(true);
    expect(err.message).to.equal(`Placement answered 500 to GET /allocations/${RP}: 500 Internal Server Error Internal Server Error The server encountered an internal error.`);
  });

  it('turns a success that is not JSON, empty, or of the wrong shape into a BAD_REPLY naming the field', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('OK');
    };
    expect((await placementFailure(client().providerAllocations(RP))).message).to.equal(`Placement's 200 reply to GET /resource_providers/${RP}/allocations is not JSON: OK`);
    route = (_req, res) => json(res, 200, { allocations: { c1: { resources: { VCPU: -1 } } }, resource_provider_generation: 0 });
    const shape = await placementFailure(client().providerAllocations(RP));
    expect(shape.code).to.equal('PLACEMENT_BAD_REPLY');
    expect(shape.message).to.contain('allocations.c1.resources.VCPU');
    route = (_req, res) => {
      res.writeHead(200);
      res.end();
    };
    expect((await placementFailure(client().ensureProvider({ uuid: RP, name: 'h' }))).message).to.contain('is an empty body');
    route = (_req, res) => json(res, 200, { versions: [] });
    expect((await placementFailure(client().root())).code).to.equal('PLACEMENT_BAD_REPLY');
  });

  it('carries Placement\'s error code and request id on an HTTP_ERROR', async () => {
    route = (_req, res) =>
      json(res, 400, { errors: [{ status: 400, title: 'Bad Request', detail: 'JSON does not validate: -1 is less than the minimum of 0', code: 'placement.undefined_code', request_id: 'req-x' }] }, { 'x-openstack-request-id': 'req-11111111-2222-3333-4444-555555555555' });
    const err = await placementFailure(client().consumerAllocations(RP));
    expect(err).to.include({ code: 'PLACEMENT_HTTP_ERROR', status: 400, placementCode: 'placement.undefined_code', retryable: false });
    expect(err.details).to.include({ placement_request_id: 'req-11111111-2222-3333-4444-555555555555', request: `GET /allocations/${RP}` });
  });

  it('sends the caller\'s request id only in the form Placement accepts', async () => {
    route = (_req, res) => json(res, 200, { allocations: {} });
    await client().consumerAllocations(RP, 'req-abbae2d1-437f-488c-9356-498d0596223c');
    await client().consumerAllocations(RP, 'not-a-global-id');
    expect(server.seen.map((s) => s.headers['x-openstack-request-id'])).to.deep.equal(['req-abbae2d1-437f-488c-9356-498d0596223c', undefined]);
    expect(server.seen[0]?.headers['openstack-api-version']).to.equal('placement 1.28');
  });

  it('refuses a Placement whose microversions stop below 1.28', async () => {
    route = (_req, res) => json(res, 200, { versions: [{ id: 'v1.0', min_version: '1.0', max_version: '1.20', status: 'CURRENT' }] });
    const err = await placementFailure(client().root());
    expect(err.code).to.equal('PLACEMENT_TOO_OLD');
    expect(err.message).to.contain('1.0 to 1.20').and.contain('1.28');
    expect(server.seen[0]?.headers['x-auth-token'], 'the version document is read without a token').to.equal(undefined);
  });

  it(`gives up on a generation that keeps changing after ${SYNC_ATTEMPTS} attempts, reading between them`, async () => {
    let generation = 0;
    route = (req, res) => {
      if (req.url.includes('in_tree')) return json(res, 200, { resource_providers: [{ uuid: RP, name: 'h', generation }] });
      if (req.method === 'GET' && req.url.endsWith('/inventories')) return json(res, 200, { inventories: {}, resource_provider_generation: generation });
      if (req.method === 'GET' && req.url.endsWith('/traits')) return json(res, 200, { traits: [], resource_provider_generation: generation });
      generation += 1; // someone else always got there first
      json(res, 409, { errors: [{ status: 409, title: 'Conflict', detail: 'resource provider generation conflict', code: 'placement.concurrent_update' }] });
    };
    const c = client();
    await c.ensureProvider({ uuid: RP, name: 'h' });
    const err = await placementFailure(c.syncProvider({ uuid: RP, name: 'h', inventories: { VCPU: { total: 4 } }, traits: [] }));
    expect(err.code).to.equal('PLACEMENT_GENERATION_CONFLICT');
    expect(err.message).to.contain(`${SYNC_ATTEMPTS} attempts`);
    const writes = events.filter((e) => e.method === 'PUT');
    expect(writes).to.have.length(SYNC_ATTEMPTS);
    expect(writes.map((e) => (e.body as { resource_provider_generation: number }).resource_provider_generation)).to.deep.equal([0, 1, 2, 3]);
  });

  it('after a conflict on the traits write, writes only the traits again and still reports the inventory written', async () => {
    let generation = 0;
    let inventories: unknown = {};
    let traitConflicts = 1;
    route = (req, res) => {
      if (req.url.includes('in_tree')) return json(res, 200, { resource_providers: [{ uuid: RP, name: 'h', generation }] });
      if (req.url.startsWith('/traits?')) return json(res, 200, { traits: ['COMPUTE_NODE'] });
      if (req.method === 'GET' && req.url.endsWith('/inventories')) return json(res, 200, { inventories, resource_provider_generation: generation });
      if (req.method === 'GET' && req.url.endsWith('/traits')) return json(res, 200, { traits: [], resource_provider_generation: generation });
      if (req.method === 'PUT' && req.url.endsWith('/inventories')) {
        inventories = (JSON.parse(req.body) as { inventories: unknown }).inventories;
        generation += 1;
        return json(res, 200, { inventories, resource_provider_generation: generation });
      }
      if (traitConflicts-- > 0) {
        generation += 1; // an operator's aggregate change, say
        return json(res, 409, { errors: [{ status: 409, title: 'Conflict', detail: 'generation conflict' }] });
      }
      generation += 1;
      json(res, 200, { traits: ['COMPUTE_NODE'], resource_provider_generation: generation });
    };
    const c = client();
    await c.ensureProvider({ uuid: RP, name: 'h' });
    expect(await c.syncProvider({ uuid: RP, name: 'h', inventories: { VCPU: { total: 4 } }, traits: ['COMPUTE_NODE'] })).to.deep.equal({ changed: ['inventories', 'traits'], generation: 3 });
    expect(events.filter((e) => e.method === 'PUT').map((e) => `${e.path.split('/').pop()} ${e.status}`)).to.deep.equal(['inventories 200', 'traits 409', 'traits 200']);
  });

  it('does not retry a 409 that is not a generation conflict (inventory still allocated)', async () => {
    route = (req, res) => {
      if (req.url.includes('in_tree')) return json(res, 200, { resource_providers: [{ uuid: RP, name: 'h', generation: 5 }] });
      if (req.method === 'GET' && req.url.endsWith('/inventories')) return json(res, 200, { inventories: { DISK_GB: { total: 10, reserved: 0, min_unit: 1, max_unit: 10, step_size: 1, allocation_ratio: 1 } }, resource_provider_generation: 5 });
      if (req.method === 'GET' && req.url.endsWith('/traits')) return json(res, 200, { traits: [], resource_provider_generation: 5 });
      json(res, 409, { errors: [{ status: 409, title: 'Conflict', detail: 'Inventory for DISK_GB on resource provider in use.', code: 'placement.inventory.inuse' }] });
    };
    const c = client();
    await c.ensureProvider({ uuid: RP, name: 'h' });
    const err = await placementFailure(c.syncProvider({ uuid: RP, name: 'h', inventories: { VCPU: { total: 4 } }, traits: [] }));
    expect(err).to.include({ code: 'PLACEMENT_HTTP_ERROR', status: 409, placementCode: 'placement.inventory.inuse' });
    expect(events.filter((e) => e.method === 'PUT')).to.have.length(1);
  });

  it('refuses arguments outside the schemas before any request', async () => {
    route = (_req, res) => json(res, 200, {});
    const bad = [
      client().deleteConsumerAllocations('../resource_providers').catch((e: unknown) => e),
      client().syncProvider({ uuid: RP, name: 'h', inventories: { VCPU: { total: 1, allocation_ratio: -1 } }, traits: [] }).catch((e: unknown) => e),
      client().syncProvider({ uuid: RP, name: 'h', inventories: {}, traits: ['lower_case'] }).catch((e: unknown) => e),
    ];
    const messages = (await Promise.all(bad)).map(String);
    expect(messages[0]).to.contain('invalid consumer uuid');
    expect(messages[1]).to.contain('inventories.VCPU.allocation_ratio');
    expect(messages[2]).to.contain('traits.0');
    expect(server.seen).to.have.length(0);
  });
});
