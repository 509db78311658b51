/**
 * Keystone v3 password auth of the Placement client against a local
 * node:http server standing in for Keystone: there is no Keystone in Debian's
 * test set-up here (the control plane of scripts/nova-control-plane.sh runs without one), so
 * the stand-in answers as Keystone's v3 API documents (201, X-Subject-Token,
 * token.expires_at, token.catalog). Another stand-in plays Placement and
 * accepts only the tokens the test says.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { chooseEndpoint } from '../../src/adapters/nova/placement/catalog';
import { PlacementClient } from '../../src/adapters/nova/placement/client';
import type { RequestEvent } from '../../src/adapters/nova/placement/session';
import { type PlacementSettings, placementSettingsFromIni } from '../../src/adapters/nova/placement/settings';
import { PlacementError } from '../../src/errors';
import { createLogger, type Logger } from '../../src/log';
import { type FakeHttp, json, type Seen, startFakeHttp } from '../support/fake-http';
import { placementFailure } from '../support/placement-failure';

const RP = '14c3ea28-784d-420d-a399-c71e699f198f';
const PASSWORD = 'pw-Secret-42';

interface KeystoneScript {
  /** Seconds from now each new token lives. */
  lifeS: number;
  /** Answer for the next token request instead of a token (status, body, content type). */
  refuse?: { status: number; body: string; type: string } | undefined;
  issued: number;
}

function catalog(placementUrl: string) {
  return [
    { type: 'identity', name: 'keystone', endpoints: [{ url: 'http://k/v3', interface: 'public', region_id: 'RegionOne', region: 'RegionOne' }] },
    {
      type: 'placement',
      name: 'placement',
      endpoints: [
        { url: `${placementUrl}/public`, interface: 'public', region_id: 'RegionOne', region: 'RegionOne' },
        { url: `${placementUrl}/internal`, interface: 'internal', region_id: 'RegionOne', region: 'RegionOne' },
        { url: `${placementUrl}/two-internal/`, interface: 'internal', region_id: 'RegionTwo', region: 'RegionTwo' },
      ],
    },
  ];
}

function logCapture(): { log: Logger; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return { log: createLogger({ level: 'debug', format: 'json', stream }), text: () => text };
}

describe('placement client: Keystone v3 password auth (local Keystone stand-in)', () => {
  let keystone: FakeHttp;
  let placement: FakeHttp;
  const script: KeystoneScript = { lifeS: 3600, issued: 0 };
  /** Tokens the Placement stand-in accepts. */
  let accepted: (token: string | undefined) => boolean;

  before(async () => {
    placement = await startFakeHttp((req, res) => {
      if (!accepted(header(req, 'x-auth-token'))) return json(res, 401, { errors: [{ status: 401, title: 'Unauthorized', detail: 'The request you have made requires authentication.' }] });
      json(res, 200, { allocations: {}, resource_provider_generation: 0 });
    });
    keystone = await startFakeHttp((req, res) => {
      if (script.refuse) {
        res.writeHead(script.refuse.status, { 'Content-Type': script.refuse.type });
        return res.end(script.refuse.body);
      }
      const auth = JSON.parse(req.body) as { auth: { identity: { password: { user: { password: string } } } } };
      if (auth.auth.identity.password.user.password !== PASSWORD) {
        return json(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
      }
      script.issued += 1;
      const expires = new Date(Date.now() + script.lifeS * 1000).toISOString().replace('Z', '000Z');
      json(res, 201, { token: { expires_at: expires, methods: ['password'], catalog: catalog(placement.url) } }, { 'X-Subject-Token': `tok-${script.issued}` });
    });
  });
  after(async () => {
    await keystone.close();
    await placement.close();
  });
  beforeEach(() => {
    keystone.seen.length = 0;
    placement.seen.length = 0;
    Object.assign(script, { lifeS: 3600, refuse: undefined, issued: 0 });
    accepted = (t) => t?.startsWith('tok-') === true;
  });

  function settings(extra: Record<string, string> = {}): PlacementSettings {
    return placementSettingsFromIni({
      auth_type: 'password',
      auth_url: keystone.url,
      username: 'placement',
      password: PASSWORD,
      user_domain_name: 'Default',
      project_name: 'service',
      project_domain_id: 'default',
      connect_retries: '0',
      ...extra,
    }).settings;
  }

  it('sends the v3 password method to <auth_url>/v3/auth/tokens and Placement the X-Subject-Token', async () => {
    const client = new PlacementClient(settings(), logCapture().log);
    await client.providerAllocations(RP);
    expect(keystone.seen).to.have.length(1);
    const [ks] = keystone.seen;
    expect(ks?.method).to.equal('POST');
    expect(ks?.url).to.equal('/v3/auth/tokens');
    expect(JSON.parse(ks?.body ?? '')).to.deep.equal({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'placement', domain: { name: 'Default' }, password: PASSWORD } } },
        scope: { project: { name: 'service', domain: { id: 'default' } } },
      },
    });
    const [call] = placement.seen;
    expect(call?.url).to.equal(`/internal/resource_providers/${RP}/allocations`);
    expect(header(call, 'x-auth-token')).to.equal('tok-1');
    expect(header(call, 'user-agent')).to.equal('hostwall');
  });

  it('accepts an auth_url that already ends in /v3', async () => {
    await new PlacementClient(settings({ auth_url: `${keystone.url}/v3/` }), logCapture().log).providerAllocations(RP);
    expect(keystone.seen.map((s) => s.url)).to.deep.equal(['/v3/auth/tokens']);
  });

  it('picks the catalog endpoint by valid_interfaces order and region, unless endpoint_override', async () => {
    const path = async (extra: Record<string, string>) => {
      placement.seen.length = 0;
      await new PlacementClient(settings(extra), logCapture().log).providerAllocations(RP);
      return placement.seen[0]?.url.split('/resource_providers')[0];
    };
    expect(await path({})).to.equal('/internal');
    expect(await path({ valid_interfaces: 'public,internal' })).to.equal('/public');
    expect(await path({ region_name: 'RegionTwo' })).to.equal('/two-internal');
    expect(await path({ region_name: 'RegionTwo', valid_interfaces: 'public' }).catch((e: unknown) => e)).to.be.instanceOf(PlacementError);
    expect(await path({ endpoint_override: `${placement.url}/override` })).to.equal('/override');
  });

  it('says which endpoint the catalog lacks', async () => {
    const err = await placementFailure(new PlacementClient(settings({ region_name: 'RegionThree' }), logCapture().log).providerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_AUTH_FAILED');
    expect(err.message).to.contain('no internal or public endpoint of service type "placement" in region "RegionThree"');
  });

  it('reuses the token until it is near expiry, and shares one authentication between concurrent calls', async () => {
    const client = new PlacementClient(settings(), logCapture().log);
    await Promise.all([client.providerAllocations(RP), client.providerAllocations(RP), client.providerAllocations(RP)]);
    await client.providerAllocations(RP);
    expect(keystone.seen).to.have.length(1);
    expect(placement.seen.map((s) => header(s, 'x-auth-token'))).to.deep.equal(['tok-1', 'tok-1', 'tok-1', 'tok-1']);

    script.lifeS = 60; // inside keystoneauth's 120 s margin: replaced before every use
    const shortLived = new PlacementClient(settings(), logCapture().log);
    await shortLived.providerAllocations(RP);
    await shortLived.providerAllocations(RP);
    expect(keystone.seen).to.have.length(3);
  });

  it('on a 401 authenticates once more and repeats the request', async () => {
    const client = new PlacementClient(settings(), logCapture().log);
    await client.providerAllocations(RP);
    accepted = (t) => t === 'tok-2'; // tok-1 revoked
    await client.providerAllocations(RP);
    expect(keystone.seen).to.have.length(2);
    expect(placement.seen.map((s) => header(s, 'x-auth-token'))).to.deep.equal(['tok-1', 'tok-1', 'tok-2']);
  });

  it('gives up after one new authentication still gets a 401', async () => {
    accepted = () => false;
    const client = new PlacementClient(settings(), logCapture().log);
    const err = await placementFailure(client.providerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_AUTH_FAILED');
    expect(err.status).to.equal(401);
    expect(keystone.seen).to.have.length(2);
    expect(placement.seen).to.have.length(2);
  });

  it('reports refused credentials naming the user, never the password', async () => {
    const { log, text } = logCapture();
    const err = await placementFailure(new PlacementClient(settings({ password: 'wrong-Secret-7' }), log).providerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_AUTH_FAILED');
    expect(err.message).to.contain('user "placement" of project "service"').and.contain('401');
    expect(`${err.message} ${JSON.stringify(err.details)} ${err.stack} ${text()}`).to.not.contain('wrong-Secret-7');
  });

  it('keeps the password and tokens out of errors even when an error page echoes the request', async () => {
    const { log, text } = logCapture();
    const client = new PlacementClient(settings(), log);
    await client.providerAllocations(RP);
    // tok-1 is refused; authenticating again meets a proxy page that echoes the first token request.
    accepted = () => false;
    script.refuse = { status: 500, type: 'text/html', body: `<html><body><h1>500</h1><pre>${keystone.seen[0]?.body} X-Subject-Token: tok-1</pre></body></html>` };
    const err0 = await placementFailure(client.providerAllocations(RP));
    expect(err0.code).to.equal('PLACEMENT_HTTP_ERROR');
    expect(err0.retryable).to.equal(true);
    expect(err0.message).to.contain('Keystone').and.contain('500').and.contain('***');
    const everything = `${err0.message} ${JSON.stringify(err0.details)} ${err0.stack} ${text()}`;
    expect(everything).to.not.contain(PASSWORD);
    expect(everything).to.not.contain('tok-1');
  });

  it('sends an admin_token as is and takes its 401 as final', async () => {
    const admin = placementSettingsFromIni({ auth_type: 'admin_token', endpoint_override: `${placement.url}/admin/`, token: 'admin-Secret-3', connect_retries: '0' }).settings;
    accepted = (t) => t === 'admin-Secret-3';
    const client = new PlacementClient(admin, logCapture().log);
    await client.providerAllocations(RP);
    expect(placement.seen[0]?.url).to.equal(`/admin/resource_providers/${RP}/allocations`);
    accepted = () => false;
    const err = await placementFailure(client.providerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_AUTH_FAILED');
    expect(placement.seen).to.have.length(2);
    expect(keystone.seen).to.have.length(0);
    expect(`${err.message} ${JSON.stringify(err.details)}`).to.not.contain('admin-Secret-3');
  });

  it('sends no token with auth_type none', async () => {
    accepted = (t) => t === undefined;
    const none = placementSettingsFromIni({ auth_type: 'none', endpoint: placement.url }).settings;
    await new PlacementClient(none, logCapture().log).providerAllocations(RP);
    expect(header(placement.seen[0], 'x-auth-token')).to.equal(undefined);
  });
});

describe('placement client: TLS options (cafile, insecure)', () => {
  let dir: string;
  let server: FakeHttp;
  before(async function () {
    this.timeout(30_000);
    dir = mkdtempSync(join(tmpdir(), 'hw-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server = await startFakeHttp((_req, res) => json(res, 200, { allocations: {}, resource_provider_generation: 0 }), {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tls = (extra: Record<string, string>) => placementSettingsFromIni({ auth_type: 'admin_token', endpoint: server.url, token: 't', connect_retries: '0', ...extra }).settings;

  it('refuses a certificate the system CAs do not vouch for, at once', async () => {
    const events: RequestEvent[] = [];
    const err = await placementFailure(new PlacementClient(tls({ connect_retries: '3' }), logCapture().log, { observer: (e) => events.push(e) }).providerAllocations(RP));
    expect(err.code).to.equal('PLACEMENT_UNREACHABLE');
    expect(err.message).to.contain('SELF_SIGNED').and.contain('cafile');
    expect(events.map((e) => e.failure), 'a certificate does not verify on a second try either').to.deep.equal(['tls']);
  });

  it('trusts it with cafile, or with insecure', async () => {
    expect((await new PlacementClient(tls({ cafile: join(dir, 'cert.pem') }), logCapture().log).providerAllocations(RP)).allocations).to.deep.equal({});
    expect((await new PlacementClient(tls({ insecure: 'true' }), logCapture().log).providerAllocations(RP)).allocations).to.deep.equal({});
  });

  it('names an unreadable cafile', async () => {
    const err = await new PlacementClient(tls({ cafile: join(dir, 'missing.pem') }), logCapture().log).providerAllocations(RP).catch((e: unknown) => e);
    expect(String(err)).to.contain('[placement] cafile').and.contain('ENOENT');
  });
});

describe('placement catalog: endpoint choice as keystoneauth makes it', () => {
  const cat = [
    { type: 'placement', name: 'placement', endpoints: [
      { url: 'http://pub', interface: 'public', region_id: 'R1' },
      { url: 'http://int', interface: 'internalURL', region: 'R1' },
      { url: '', interface: 'admin', region_id: 'R1' },
    ] },
  ];
  const base = { service_type: 'placement', valid_interfaces: ['internal', 'public'] as const };

  it('follows valid_interfaces order, reads internalURL as internal, skips empty URLs', () => {
    expect(chooseEndpoint(cat, base)).to.deep.equal({ url: 'http://int' });
    expect(chooseEndpoint(cat, { ...base, valid_interfaces: ['admin', 'public'] })).to.deep.equal({ url: 'http://pub' });
  });

  it('filters by region (region_id, else region) and service name', () => {
    expect(chooseEndpoint(cat, { ...base, region_name: 'R1' })).to.deep.equal({ url: 'http://int' });
    expect(chooseEndpoint(cat, { ...base, region_name: 'R2' })).to.have.property('problem');
    expect(chooseEndpoint(cat, { ...base, service_name: 'other' })).to.have.property('problem').that.contains('named "other"');
  });
});

function header(req: Seen | undefined, name: string): string | undefined {
  const v = req?.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
