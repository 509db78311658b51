/**
 * Who may send what, against real workers in issuer mode `verified` (issue
 * 15, items 6 and 7):
 *
 * - a signature binds its message to the routing key it was signed for (the
 *   target host) and to a time window: re-published to another host, or
 *   after the window, it is refused; within the window, a copy re-sent to
 *   its own host is answered from the intent store, not applied again;
 *   `hostwall replay --issuer-keys-file` re-signs what it re-sends;
 * - port facts carried by a Nova message are learnt only from issuers that
 *   may plug ports (Neutron, Nova): Cinder's copy of Nova's network info
 *   cache does not decide which bridge a later attach_interface uses.
 *
 * The AMQP user "guest" is Nova (RabbitMQ checks user_id against the
 * connection's user); Neutron and Cinder sign with HMAC keys.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as amqp from 'amqplib';
import { expect } from 'chai';
import { envelopeJson } from '../../src/oslo/envelope';
import { decodeOsloBody } from '../../src/oslo/envelope';
import { decodeRpcReply, type ReplyValue } from '../../src/oslo/rpc-reply';
import { replyQueueName } from '../../src/oslo/topology';
import { signatureHeaders } from '../../src/policy/signature';
import { DEAD_LETTER_HEADERS } from '../../src/oslo/wire/oslo-wire';
import { loadNovaFixtures } from '../compat/nova-capture-fixtures';
import { TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { uniqueHost } from '../support/worker';
import { runCli } from '../support/worker-process';

const NEUTRON_KEY = 'neutron-hmac-key-for-tests';
const CINDER_KEY = 'cinder-hmac-key-for-tests';
const JSON_PROPS: amqp.Options.Publish = { contentType: 'application/json', contentEncoding: 'utf-8' };
const hex = () => randomUUID().replace(/-/g, '');

/** The signature headers an issuer's client puts on a message for `routingKey`, signed `ageS` seconds ago. */
function signed(issuer: 'neutron' | 'cinder', key: string, routingKey: string, body: Buffer, ageS = 0): Record<string, string> {
  return signatureHeaders(issuer, key, routingKey, body, Date.now() - ageS * 1000);
}

function keysFile(dir: string): string {
  const path = join(dir, 'keys.json');
  writeFileSync(path, JSON.stringify({ neutron: NEUTRON_KEY, cinder: CINDER_KEY }));
  return path;
}

describe('bad input: a signature binds its message to one host and a time window', function () {
  this.timeout(120_000);
  let bus: TestBus;
  let a: HostWorker;
  let b: HostWorker;
  let keys: string;

  before(async () => {
    const statePath = tempStatePath();
    keys = keysFile(statePath);
    const config = { issuerMode: 'verified' as const, issuerUsers: { guest: 'nova' as const }, issuerKeysFile: keys, journal: false };
    a = await startHostWorker({ host: uniqueHost('signed-a'), statePath, config });
    b = await startHostWorker({ host: uniqueHost('signed-b'), statePath: tempStatePath(), config });
    bus = await TestBus.connect(AMQP_URL);
  });

  after(async () => {
    await a?.worker.stop(2_000);
    await b?.worker.stop(2_000);
    for (const w of [a, b]) if (w) await bus?.removeHost(w.config.host);
    await bus?.close();
  });

  it('applies a message Neutron signed for host A on A, and refuses it re-published to host B', async () => {
    const [logA, logB] = [await bus.eventLog(a.config.host), await bus.eventLog(b.config.host)];
    const { body, uniqueId } = bus.intentBody('port.ready', { port_id: `p-${hex()}` });
    const headers = signed('neutron', NEUTRON_KEY, `compute.${a.config.host}`, body);
    await bus.publish({ routingKey: `compute.${a.config.host}`, body, properties: { ...JSON_PROPS, headers } });
    await logA.waitFor((e) => e.intent_id === uniqueId && e.event === 'intent.succeeded', 10_000, 'the outcome on A');
    // Whoever reads the journal or the bus has this message: re-aimed at B, it is refused there.
    await bus.publish({ routingKey: `compute.${b.config.host}`, body, properties: { ...JSON_PROPS, headers } });
    const onB = await logB.waitFor((e) => e.intent_id === uniqueId, 10_000, 'the answer on B');
    expect(onB.event).to.equal('intent.rejected');
    expect(onB.event === 'intent.rejected' ? onB.error.code : '').to.equal('ISSUER_REFUSED');
    const [dead] = await bus.deadLetters(b.config.host, 1);
    expect(String(dead?.headers[DEAD_LETTER_HEADERS.error])).to.match(/signature/);
  });

  it('answers a copy re-sent to its own host within the window from the record, without applying it again', async () => {
    const log = await bus.eventLog(a.config.host);
    const { body, uniqueId } = bus.intentBody('port.ready', { port_id: `p-${hex()}` });
    const headers = signed('neutron', NEUTRON_KEY, `compute.${a.config.host}`, body);
    for (let i = 0; i < 2; i++) await bus.publish({ routingKey: `compute.${a.config.host}`, body, properties: { ...JSON_PROPS, headers } });
    await log.until(() => log.outcomesOf(uniqueId).length, 2, 10_000, 'both answers');
    const [first, second] = log.outcomesOf(uniqueId);
    expect(first?.event).to.equal('intent.succeeded');
    expect(second).to.include({ event: 'intent.succeeded', redelivered: true });
  });

  it('refuses a signature older than the window, and one dated beyond it in the future', async () => {
    const log = await bus.eventLog(b.config.host);
    for (const ageS of [3_600, -3_600]) {
      const { body, uniqueId } = bus.intentBody('port.ready', { port_id: `p-${hex()}` });
      await bus.publish({ routingKey: `compute.${b.config.host}`, body, properties: { ...JSON_PROPS, headers: signed('neutron', NEUTRON_KEY, `compute.${b.config.host}`, body, ageS) } });
      const e = await log.waitFor((x) => x.intent_id === uniqueId, 10_000, `the answer to a signature ${ageS} s old`);
      expect(e.event === 'intent.rejected' ? e.error.message : e.event).to.match(/window/);
    }
    await bus.deadLetters(b.config.host, 2);
  });

  it('hostwall send --issuer-keys-file signs for the host it sends to; unsigned, the same send is refused', async () => {
    const log = await bus.eventLog(b.config.host);
    const send = (extra: string[]) => runCli(['send', 'port.ready', '--host', b.config.host, '--issuer', 'neutron', '--args', JSON.stringify({ port_id: `p-${hex()}` }), ...extra], { AMQP_URL, HOSTWALL_ISSUER_KEYS_FILE: '' });
    const signedSend = await send(['--issuer-keys-file', keys]);
    expect(signedSend.code, signedSend.stderr).to.equal(0);
    const { intent_id: signedId } = JSON.parse(signedSend.stdout) as { intent_id: string };
    expect((await log.waitFor((e) => e.intent_id === signedId && e.event !== 'intent.accepted', 10_000, 'the signed send')).event).to.equal('intent.succeeded');
    const unsigned = await send([]);
    const { intent_id: unsignedId } = JSON.parse(unsigned.stdout) as { intent_id: string };
    const e = await log.waitFor((x) => x.intent_id === unsignedId, 10_000, 'the unsigned send');
    expect(e.event === 'intent.rejected' ? e.error.message : e.event).to.match(/not proven/);
    await bus.deadLetters(b.config.host, 1);
  });

  it('hostwall replay --issuer-keys-file re-signs a stale dead letter for its host, and it is applied', async () => {
    const log = await bus.eventLog(b.config.host);
    const { body, uniqueId } = bus.intentBody('port.ready', { port_id: `p-${hex()}` });
    await bus.publish({ routingKey: `compute.${b.config.host}`, body, properties: { ...JSON_PROPS, headers: signed('neutron', NEUTRON_KEY, `compute.${b.config.host}`, body, 3_600) } });
    await log.waitFor((e) => e.intent_id === uniqueId && e.event === 'intent.rejected', 10_000, 'the stale refusal');
    const r = await runCli(['replay', '--dead-letters', '--host', b.config.host, '--issuer-keys-file', keys], { AMQP_URL });
    expect(r.code, r.stderr).to.equal(0);
    const e = await log.waitFor((x) => x.intent_id === uniqueId && (x.event === 'intent.succeeded' || x.event === 'intent.failed'), 10_000, 'the replayed outcome');
    expect(e.event).to.equal('intent.succeeded');
  });
});

// The fixed ids of test/compat/py/nova_objects_fixture.py.
const INSTANCE = 'a3b8e0f2-5c1d-4e6f-9a7b-2c3d4e5f6a7b';
const PORT = '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b';
const NEW_PORT = '7a2e3c4d-5e6f-4071-8c8d-9e0f1a2b3c4d';

describe('bad input: port facts are learnt only from issuers that may plug ports', function () {
  this.timeout(120_000);
  const fixtures = loadNovaFixtures();
  let bus: TestBus;
  let w: HostWorker;
  let host: string;
  let replyQueue: string;
  const replies = new Map<string, (v: ReplyValue) => void>();

  before(async () => {
    const statePath = tempStatePath();
    host = uniqueHost('facts');
    w = await startHostWorker({ host, statePath, config: { issuerMode: 'verified', issuerUsers: { guest: 'nova' }, issuerKeysFile: keysFile(statePath), journal: false } });
    bus = await TestBus.connect(AMQP_URL);
    const ch = await bus.channel();
    replyQueue = (await ch.assertQueue(replyQueueName(), { exclusive: true, autoDelete: true })).queue;
    await ch.consume(replyQueue, (m) => {
      if (!m) return;
      const r = decodeRpcReply(decodeOsloBody(m.content, m.properties.contentType, m.properties.contentEncoding));
      if (r?.ending && r.msgId) replies.get(r.msgId)?.(r.value);
    }, { noAck: true });
    const log = await bus.eventLog(host);
    const { body, uniqueId } = bus.intentBody('instance.spawn', { instance_uuid: INSTANCE, name: 'facts-guest', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: { ...JSON_PROPS, userId: 'guest' } });
    await log.waitFor((e) => e.intent_id === uniqueId && e.event === 'intent.succeeded', 15_000, 'the spawn');
  });

  after(async () => {
    await w?.worker.stop(2_000);
    await bus?.removeHost(host);
    await bus?.close();
  });

  /** Nova's external_instance_event "network-changed" for NEW_PORT, the instance's info cache putting NEW_PORT on `bridge`. */
  function networkChanged(bridge: string, context: Record<string, unknown>): Buffer {
    const f = fixtures.get('external_instance_event.json');
    if (!f) throw new Error('fixture external_instance_event.json is missing');
    const text = JSON.stringify(f.message).replaceAll(PORT, NEW_PORT).replaceAll('network-vif-plugged', 'network-changed').replaceAll('br-int', bridge);
    return Buffer.from(envelopeJson({ ...(JSON.parse(text) as Record<string, unknown>), ...context, _unique_id: hex() }), 'utf8');
  }

  /** Nova's attach_interface of NEW_PORT, as a call from Nova (user guest); resolves with the reply. */
  async function attachInterface(): Promise<ReplyValue> {
    const f = fixtures.get('attach_interface.json');
    if (!f) throw new Error('fixture attach_interface.json is missing');
    const msgId = hex();
    const reply = new Promise<ReplyValue>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply to attach_interface in 20 s')), 20_000);
      replies.set(msgId, (v) => {
        clearTimeout(t);
        resolve(v);
      });
    });
    const body = Buffer.from(envelopeJson({ ...f.message, _unique_id: hex(), _msg_id: msgId, _reply_q: replyQueue, _timeout: null }), 'utf8');
    await bus.publish({ routingKey: `compute.${host}`, body, properties: { ...JSON_PROPS, userId: 'guest' } });
    return reply;
  }

  it('does not let a Nova message sent by Cinder decide the bridge of a later attach_interface', async () => {
    const body = networkChanged('br-evil', { _context_issuer: 'cinder' });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: { ...JSON_PROPS, headers: signed('cinder', CINDER_KEY, `compute.${host}`, body) } });
    const reply = await attachInterface();
    const bridge = reply.kind === 'result' ? (reply.result as { network?: { bridge?: string } }).network?.bridge : undefined;
    expect(bridge, 'the bridge Cinder named').to.not.equal('br-evil');
    expect(reply.kind).to.equal('failure');
    expect(reply.kind === 'failure' ? reply.error.message : '').to.match(/port 7a2e3c4d-5e6f-4071-8c8d-9e0f1a2b3c4d is not known/);
  });

  it('learns them from Nova: the same message from Nova puts the port on its bridge', async () => {
    await bus.publish({ routingKey: `compute.${host}`, body: networkChanged('br-nova', {}), properties: { ...JSON_PROPS, userId: 'guest' } });
    const reply = await attachInterface();
    expect(reply.kind === 'result' ? (reply.result as { network?: { bridge?: string } }).network?.bridge : reply).to.equal('br-nova');
  });
});
