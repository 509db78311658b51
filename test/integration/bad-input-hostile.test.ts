/**
 * Hostile input at the wall: each message below is refused before any
 * effect, lands in the host's dead-letter queue with its reason, original
 * routing key and first error in headers, is announced as intent.rejected,
 * and leaves the worker able to carry out the next valid intent.
 *
 * The worker runs with issuerMode=verified: the AMQP user_id "guest" is Nova
 * (RabbitMQ checks user_id against the connection's user), and Neutron signs
 * with an HMAC key.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as amqp from 'amqplib';
import { IntentClient } from '../../src/client/intent-client';
import { SIGNATURE_HEADERS, signatureHeaders } from '../../src/policy/signature';
import { REPLAY_HEADERS } from '../../src/store/replay-marks';
import { DEAD_LETTER_HEADERS } from '../../src/oslo/wire/oslo-wire';
import { TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { connectTransport, uniqueHost, uuid } from '../support/worker';
import type { Transport } from '../../src/transport/transport';

const NEUTRON_KEY = 'neutron-hmac-key-for-tests';
const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };
const JSON_PROPS: amqp.Options.Publish = { contentType: 'application/json', contentEncoding: 'utf-8', userId: 'guest' };

interface Hostile {
  name: string;
  reason: string;
  body: Buffer;
  properties?: amqp.Options.Publish;
  /** Headers that depend on the host (signatures cover the routing key). */
  headers?: (host: string) => Record<string, unknown>;
}

const env = (inner: unknown) => Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(inner) }));
const msg = (over: Record<string, unknown>) => env({ method: 'instance.pause', namespace: 'hostwall', version: '1.0', args: { instance_uuid: uuid() }, _unique_id: uuid().replace(/-/g, ''), ...over });

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

describe('bad input: hostile messages are dead-lettered with their reason, and the worker carries on', function () {
  this.timeout(120_000);
  let bus: TestBus;
  let w: HostWorker;
  let host: string;
  let instance: string;
  let client: IntentClient;
  let clientTransport: Transport;
  let valid = 0;

  before(async () => {
    host = uniqueHost('hostile');
    const statePath = tempStatePath();
    const keys = join(statePath, 'keys.json');
    writeFileSync(keys, JSON.stringify({ neutron: NEUTRON_KEY }));
    w = await startHostWorker({ host, statePath, config: { issuerMode: 'verified', issuerUsers: { guest: 'nova' }, issuerKeysFile: keys, maxMessageBytes: 64 * 1024 } });
    bus = await TestBus.connect(AMQP_URL);
    clientTransport = await connectTransport(`hostile-client-${host}`);
    client = new IntentClient(clientTransport, { controlExchange: 'nova' });
    instance = uuid();
    const log = await bus.eventLog(host);
    const { body } = bus.intentBody('instance.spawn', { instance_uuid: instance, name: `h-${instance.slice(0, 8)}`, flavor });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: JSON_PROPS });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn');
  });

  after(async () => {
    await clientTransport?.close();
    await w?.worker.stop(2_000);
    await bus?.removeHost(host);
    await bus?.close();
  });

  const spawnArgs = () => ({ instance_uuid: uuid(), name: 'x', flavor });
  const hostile: Hostile[] = [
    { name: 'empty body', reason: 'NOT_JSON', body: Buffer.alloc(0) },
    { name: 'truncated JSON', reason: 'NOT_JSON', body: Buffer.from('{"oslo.version": "2.0", "oslo.mess') },
    { name: 'binary, not UTF-8', reason: 'NOT_JSON', body: Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x9f, 0xc3, 0x28]) },
    { name: 'unknown content type', reason: 'BAD_CONTENT_TYPE', body: msg({}), properties: { ...JSON_PROPS, contentType: 'application/xml' } },
    { name: 'no content type', reason: 'BAD_CONTENT_TYPE', body: msg({}), properties: { userId: 'guest' } },
    { name: 'unknown content encoding', reason: 'BAD_CONTENT_TYPE', body: msg({}), properties: { ...JSON_PROPS, contentEncoding: 'gzip' } },
    { name: 'JSON array, not an object', reason: 'NOT_OSLO_ENVELOPE', body: Buffer.from('[1,2,3]') },
    { name: 'JSON string, not an object', reason: 'NOT_OSLO_ENVELOPE', body: Buffer.from('"hello"') },
    { name: 'wrong envelope version', reason: 'UNSUPPORTED_ENVELOPE', body: Buffer.from(JSON.stringify({ 'oslo.version': '3.0', 'oslo.message': '{}' })) },
    { name: 'envelope message not a string', reason: 'NOT_OSLO_ENVELOPE', body: Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': { method: 'x' } })) },
    { name: 'envelope message not JSON', reason: 'NOT_JSON', body: Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': '{"method": ' })) },
    { name: 'no method', reason: 'NOT_OSLO_ENVELOPE', body: msg({ method: undefined }) },
    { name: 'method of the wrong type', reason: 'NOT_OSLO_ENVELOPE', body: msg({ method: 42 }) },
    { name: 'args an array', reason: 'NOT_OSLO_ENVELOPE', body: msg({ args: [1, 2] }) },
    { name: 'a call without a reply queue', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'abc' }) },
    { name: 'no namespace', reason: 'UNSUPPORTED_VERSION', body: msg({ namespace: undefined }) },
    { name: 'unknown kind', reason: 'UNKNOWN_KIND', body: msg({ method: 'instance.explode' }) },
    { name: 'newer minor', reason: 'UNSUPPORTED_VERSION', body: msg({ version: '1.9' }) },
    { name: 'unknown major', reason: 'UNSUPPORTED_VERSION', body: msg({ version: '2.0' }) },
    { name: 'garbage version', reason: 'UNSUPPORTED_VERSION', body: msg({ version: 'x.y' }) },
    { name: 'wrong field type', reason: 'INVALID_INTENT', body: msg({ args: { instance_uuid: 42 } }) },
    { name: 'not a uuid', reason: 'INVALID_INTENT', body: msg({ args: { instance_uuid: '../../etc/passwd' } }) },
    { name: 'missing required field', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { instance_uuid: uuid(), name: 'x' } }) },
    { name: 'unknown field', reason: 'INVALID_INTENT', body: msg({ args: { instance_uuid: uuid(), rm_rf: true } }) },
    { name: 'huge string', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { ...spawnArgs(), name: 'x'.repeat(50_000) } }) },
    // Nova's bounds on instance metadata (API schema and the metadata_items quota): 128 items, keys and values of 255.
    { name: 'metadata of 129 items', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { ...spawnArgs(), metadata: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v'])) } }) },
    { name: 'a metadata key of 256 characters', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { ...spawnArgs(), metadata: { ['k'.repeat(256)]: 'v' } } }) },
    { name: 'a metadata value of 256 characters', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { ...spawnArgs(), metadata: { k: 'v'.repeat(256) } } }) },
    { name: 'an empty metadata key', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { ...spawnArgs(), metadata: { '': 'v' } } }) },
    { name: 'absurd number', reason: 'INVALID_INTENT', body: msg({ method: 'instance.spawn', args: { ...spawnArgs(), flavor: { vcpus: 1, memory_mb: 1e300, root_gb: 0 } } }) },
    { name: 'oversize body', reason: 'OVERSIZE', body: msg({ _context_blob: 'x'.repeat(70 * 1024) }) },
    { name: 'deep nesting', reason: 'OVERSIZE', body: msg({ _context_deep: nested(100) }) },
    { name: 'very deep nesting (30k levels)', reason: 'OVERSIZE', body: Buffer.from(`{"method": ${'['.repeat(30_000)}${']'.repeat(30_000)}}`) },
    { name: 'long array', reason: 'OVERSIZE', body: msg({ _context_list: Array.from({ length: 12_000 }, () => 0) }) },
    { name: '__proto__ key', reason: 'INVALID_INTENT', body: Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': `{"method":"instance.pause","namespace":"hostwall","args":{"instance_uuid":"${uuid()}","__proto__":{"admin":true}}}` })) },
    { name: 'constructor key', reason: 'INVALID_INTENT', body: msg({ _context_constructor: { prototype: { x: 1 } } }) },
    { name: 'prototype key deep in connection_info', reason: 'INVALID_INTENT', body: msg({ method: 'volume.attach', args: { instance_uuid: uuid(), volume_id: 'v1', connection_info: { driver_volume_type: 'iscsi', data: { prototype: 1 } } } }) },
    { name: 'a 40 KB _unique_id (it would become the stored intent id)', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _unique_id: 'u'.repeat(40_000) }) },
    { name: '_unique_id with control characters', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _unique_id: 'abc\u001b[2Jdef' }) },
    { name: 'a call with a 40 KB _msg_id (echoed in every reply)', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'm'.repeat(40_000), _reply_q: 'reply_0123456789abcdef0123456789abcdef' }) },
    { name: 'a call with a reply queue longer than AMQP allows', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'abc', _reply_q: 'q'.repeat(300) }) },
    { name: 'a call whose reply queue is another host\'s compute queue', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'abc', _reply_q: 'compute.other-host' }) },
    { name: 'a call whose reply queue is the journal stream', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'abc', _reply_q: 'hostwall.journal' }) },
    { name: 'a call whose reply queue is a dead-letter queue', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'abc', _reply_q: 'hostwall.dead.other-host' }) },
    { name: 'a call whose reply queue is not of oslo\'s form', reason: 'NOT_OSLO_ENVELOPE', body: msg({ _msg_id: 'abc', _reply_q: 'reply_not-a-uuid' }) },
    { name: 'a 5 KB method', reason: 'NOT_OSLO_ENVELOPE', body: msg({ method: `instance.${'x'.repeat(5_000)}` }) },
    { name: 'a 5 KB request id on an invalid intent (cut in the event)', reason: 'INVALID_INTENT', body: msg({ args: { instance_uuid: 'nope' }, _context_request_id: `req-${'r'.repeat(5_000)}` }) },
    { name: 'forged issuer claim, no proof', reason: 'ISSUER_REFUSED', body: msg({ _context_issuer: 'nova' }), properties: { contentType: 'application/json' } },
    { name: 'claim contradicting the proven user', reason: 'ISSUER_REFUSED', body: msg({ _context_issuer: 'cinder' }) },
    { name: 'forged signature', reason: 'ISSUER_REFUSED', body: msg({}), properties: { contentType: 'application/json', headers: { [SIGNATURE_HEADERS.issuer]: 'neutron', [SIGNATURE_HEADERS.signature]: `sha256=${'0'.repeat(64)}` } } },
    { name: 'valid signature, refused issuer for the kind', reason: 'ISSUER_REFUSED', body: msg({}), properties: { contentType: 'application/json' } },
    { name: 'tampered replay of a signed message', reason: 'ISSUER_REFUSED', body: msg({}), properties: { contentType: 'application/json' } },
  ];
  // Copies of messages Neutron signed, re-aimed at this host or re-sent late: a signature covers the routing key and the time.
  const signedReady = (name: string, routingKey: (host: string) => string, ageS: number): Hostile => {
    const body = msg({ method: 'port.ready', args: { port_id: `p-${uuid().slice(0, 8)}` } });
    return { name, reason: 'ISSUER_REFUSED', body, headers: (host) => signatureHeaders('neutron', NEUTRON_KEY, routingKey(host), body, Date.now() - ageS * 1000) };
  };
  hostile.splice(hostile.length - 2, 0,
    signedReady('a valid signature for another host', (host) => `compute.${host}x`, 0),
    signedReady('a valid signature made an hour ago', (host) => `compute.${host}`, 3_600),
    signedReady('a valid signature dated an hour ahead', (host) => `compute.${host}`, -3_600),
  );
  // Signatures over the exact bodies above, for this test's host.
  const refusedKind = hostile[hostile.length - 2];
  if (refusedKind) refusedKind.headers = (host) => signatureHeaders('neutron', NEUTRON_KEY, `compute.${host}`, refusedKind.body);
  const tampered = hostile[hostile.length - 1];
  if (tampered) {
    const original = msg({ method: 'port.ready', args: { port_id: 'p-1' } });
    tampered.headers = (host) => ({ ...signatureHeaders('neutron', NEUTRON_KEY, `compute.${host}`, original), [REPLAY_HEADERS.of]: 'journal:7' });
    tampered.body = Buffer.from(original.toString().replace('p-1', 'p-2'));
  }

  it(`has at least 30 hostile messages (${hostile.length})`, () => {
    expect(hostile.length).to.be.at.least(30);
  });

  for (const h of hostile) {
    it(`refuses ${h.name} (${h.reason}); the next valid intent succeeds`, async () => {
      const log = await bus.eventLog(host);
      const properties = h.properties ?? (h.headers ? { contentType: 'application/json' } : { contentType: 'application/json', userId: 'guest' });
      await bus.publish({ routingKey: `compute.${host}`, body: h.body, properties: h.headers ? { ...properties, headers: { ...properties.headers, ...h.headers(host) } } : properties });
      const rejected = await log.waitFor((e) => e.event === 'intent.rejected', 10_000, 'intent.rejected');
      expect(rejected).to.have.nested.property('error.code', h.reason);
      const [dead] = await bus.deadLetters(host, 1);
      expect(dead, 'a dead letter').to.not.equal(undefined);
      expect(dead?.headers[DEAD_LETTER_HEADERS.reason]).to.equal(h.reason);
      expect(dead?.headers[DEAD_LETTER_HEADERS.routingKey]).to.equal(`compute.${host}`);
      expect(String(dead?.headers[DEAD_LETTER_HEADERS.firstError])).to.match(new RegExp(`^${h.reason}: `));
      expect(dead?.body.equals(h.body)).to.equal(true);
      expect(log.invalid, 'events that fail their own schema').to.deep.equal([]);
      const kind = valid++ % 2 === 0 ? 'instance.pause' : 'instance.unpause';
      const { body, uniqueId } = bus.intentBody(kind, { instance_uuid: instance });
      await bus.publish({ routingKey: `compute.${host}`, body, properties: JSON_PROPS });
      const ok = await log.waitFor((e) => e.intent_id === uniqueId && (e.event === 'intent.succeeded' || e.event === 'intent.failed'), 10_000, `${kind} outcome`);
      expect(ok.event).to.equal('intent.succeeded');
    });
  }

  it('answers a refused call with the error, as a RemoteError, and dead-letters it', async () => {
    const err = await client.call(host, 'instance.pause', { instance_uuid: instance }, { timeoutMs: 10_000 }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.match(/IssuerRefused|not proven/);
    const [dead] = await bus.deadLetters(host, 1);
    expect(dead?.headers[DEAD_LETTER_HEADERS.reason]).to.equal('ISSUER_REFUSED');
  });

  it('does not dead-letter a replay of an applied intent: it is answered, flagged replayed, with no effect', async () => {
    const log = await bus.eventLog(host);
    const kind = valid++ % 2 === 0 ? 'instance.pause' : 'instance.unpause';
    const { body, uniqueId } = bus.intentBody(kind, { instance_uuid: instance });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: JSON_PROPS });
    await log.waitFor((e) => e.intent_id === uniqueId && e.event === 'intent.succeeded');
    await bus.publish({ routingKey: `compute.${host}`, body, properties: { ...JSON_PROPS, headers: { [REPLAY_HEADERS.of]: 'journal:1' } } });
    await log.until(() => log.outcomesOf(uniqueId).length, 2, 10_000, 'the replayed outcome');
    expect(log.outcomesOf(uniqueId)[1]).to.include({ event: 'intent.succeeded', replayed: true });
    expect(await bus.deadLetters(host, 1, 300)).to.deep.equal([]);
  });
});

/**
 * Host paths are hostile input too (issue 15): a volume or an image that
 * names a host file or device outside the configured roots, climbs out with
 * `..`, or is a FIFO is refused PATH_NOT_ALLOWED before the hypervisor sees
 * it (intent.failed: the message was well formed, the host refused it), and
 * the worker carries on; FIFO images never hold a build slot.
 */
describe('bad input: hostile host paths fail PATH_NOT_ALLOWED and the worker carries on', function () {
  this.timeout(60_000);
  let bus: TestBus;
  let w: HostWorker;
  let host: string;
  let instance: string;
  let dir: string;
  let valid = 0;

  before(async () => {
    host = uniqueHost('hostile-paths');
    dir = tempStatePath();
    const instancesPath = join(dir, 'instances');
    mkdirSync(instancesPath);
    symlinkSync('/etc/shadow', join(instancesPath, 'shadow.img'));
    execFileSync('mkfifo', [join(instancesPath, 'fifo.img')]);
    w = await startHostWorker({ host, statePath: dir, config: { instancesPath, maxConcurrentBuilds: 1 } });
    bus = await TestBus.connect(AMQP_URL);
    instance = uuid();
    const log = await bus.eventLog(host);
    const { body } = bus.intentBody('instance.spawn', { instance_uuid: instance, name: `hp-${instance.slice(0, 8)}`, flavor });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: JSON_PROPS });
    await log.waitFor((e) => e.event === 'intent.succeeded' && e.kind === 'instance.spawn');
  });

  after(async () => {
    await w?.worker.stop(2_000);
    await bus?.removeHost(host);
    await bus?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const attach = (type: string, data: () => Record<string, unknown>) => ['volume.attach', () => ({ instance_uuid: instance, volume_id: `v-${uuid().slice(0, 8)}`, connection_info: { driver_volume_type: type, data: data() } })] as const;
  const spawnImage = (p: () => string) => ['instance.spawn', () => ({ instance_uuid: uuid(), name: 'x', flavor, image: { id: 'img', path: p() } })] as const;
  const cases: { name: string; intent: readonly [string, () => Record<string, unknown>] }[] = [
    { name: 'a file volume on /etc/shadow', intent: attach('file', () => ({ device_path: '/etc/shadow' })) },
    { name: 'a local volume on the host disk /dev/sda', intent: attach('local', () => ({ device_path: '/dev/sda' })) },
    { name: 'an NFS volume whose name climbs out with ..', intent: attach('nfs', () => ({ export: '10.0.0.9:/srv', name: '../../../../../etc/shadow' })) },
    { name: 'a volume through a symlink to /etc/shadow', intent: attach('file', () => ({ device_path: join(dir, 'instances', 'shadow.img') })) },
    { name: 'a spawn whose image is /etc/shadow', intent: spawnImage(() => '/etc/shadow') },
    { name: 'a spawn whose image is a FIFO (the worker has one build slot)', intent: spawnImage(() => join(dir, 'instances', 'fifo.img')) },
    { name: 'another spawn whose image is the FIFO', intent: spawnImage(() => join(dir, 'instances', 'fifo.img')) },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} (PATH_NOT_ALLOWED); the next valid intent succeeds`, async () => {
      const log = await bus.eventLog(host);
      const [kind, args] = c.intent;
      const hostile = bus.intentBody(kind, args());
      await bus.publish({ routingKey: `compute.${host}`, body: hostile.body, properties: JSON_PROPS });
      const failed = await log.waitFor((e) => e.intent_id === hostile.uniqueId && (e.event === 'intent.failed' || e.event === 'intent.succeeded'), 10_000, `${kind} outcome`);
      expect(failed.event).to.equal('intent.failed');
      expect(failed).to.have.nested.property('error.code', 'PATH_NOT_ALLOWED');
      const next = valid++ % 2 === 0 ? 'instance.pause' : 'instance.unpause';
      const { body, uniqueId } = bus.intentBody(next, { instance_uuid: instance });
      await bus.publish({ routingKey: `compute.${host}`, body, properties: JSON_PROPS });
      const ok = await log.waitFor((e) => e.intent_id === uniqueId && (e.event === 'intent.succeeded' || e.event === 'intent.failed'), 10_000, `${next} outcome`);
      expect(ok.event).to.equal('intent.succeeded');
    });
  }
});
