/**
 * Hostile input that the wall takes in (it is well formed and proven) but
 * that must not have the effect it aims at: shadowing another intent by
 * reusing its id, slipping past a lock with an id in another case, making a
 * first delivery look like poison, sending the worker's answers to someone
 * else's queue, keeping a password in the journal, and writing escape
 * sequences or forged rows to an operator's terminal.
 *
 * As in bad-input-hostile.test.ts the worker runs with issuerMode=verified:
 * the AMQP user_id "guest" is Nova, Neutron signs with an HMAC key. Its log
 * is the pretty (TTY) format, captured.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type * as amqp from 'amqplib';
import { eventLine } from '../../src/cli/event-tail';
import { intentRow } from '../../src/cli/inspect';
import { row as replayRow } from '../../src/cli/replay';
import { queryIntentsPage } from '../../src/dispatch/intent-records';
import type { LibvirtDriver } from '../../src/drivers/libvirt/driver';
import type { HostwallEvent } from '../../src/events/schemas';
import { INTENT_SCHEMAS } from '../../src/intents';
import { signatureHeaders } from '../../src/policy/signature';
import { DeadLetterReader } from '../../src/replay/dead-letters';
import { createAmqp091Transport } from '../../src/transport/amqp091';
import { describe as describeMessage } from '../../src/replay/replay-message';
import { deadLetterQueueName } from '../../src/oslo/wire/oslo-wire';
import { type EventLog, TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { eventually } from '../support/eventually';
import { uniqueHost, uuid } from '../support/worker';

const NEUTRON_KEY = 'neutron-hmac-key-for-effects';
const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };
const NOVA: amqp.Options.Publish = { contentType: 'application/json', contentEncoding: 'utf-8', userId: 'guest' };
/** C0 and C1 controls, DEL, and the Unicode controls that reorder or break a line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const hex = () => randomBytes(16).toString('hex');
const env = (inner: unknown) => Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(inner) }));

const isFinal = (e: HostwallEvent) => e.event === 'intent.succeeded' || e.event === 'intent.failed' || e.event === 'intent.rejected';

describe('bad input: hostile messages that are taken in do not have the effect they aim at', function () {
  this.timeout(120_000);
  let bus: TestBus;
  let w: HostWorker;
  let host: string;
  let driver: LibvirtDriver | undefined;
  let log: EventLog;
  let logText = '';

  before(async () => {
    host = uniqueHost('effects');
    const statePath = tempStatePath();
    const keys = join(statePath, 'keys.json');
    writeFileSync(keys, JSON.stringify({ neutron: NEUTRON_KEY }));
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) => {
      logText += chunk.toString('utf8');
    });
    w = await startHostWorker({
      host, statePath, logStream,
      config: { issuerMode: 'verified', issuerUsers: { guest: 'nova' }, issuerKeysFile: keys, logFormat: 'pretty', logLevel: 'warn' },
      wrap: (d) => {
        driver = d as LibvirtDriver;
        return d;
      },
    });
    bus = await TestBus.connect(AMQP_URL);
    log = await bus.eventLog(host);
  });

  after(async () => {
    await w?.worker.stop(5_000);
    await bus?.removeHost(host);
    await bus?.close();
  });

  afterEach(() => {
    expect(log.invalid, 'events that fail their own schema').to.deep.equal([]);
  });

  /** Publish as Nova (or with the given properties); resolves with the oslo _unique_id. */
  async function send(kind: string, args: Record<string, unknown>, o: { properties?: amqp.Options.Publish; context?: Record<string, unknown> } = {}): Promise<string> {
    const { body, uniqueId } = bus.intentBody(kind, args, o.context ? { context: o.context } : {});
    await bus.publish({ routingKey: `compute.${host}`, body, properties: o.properties ?? NOVA });
    return uniqueId;
  }

  /** The first final event (outcome or refusal) of an intent id. */
  const settled = (intentId: string, what: string) => log.waitFor((e) => e.intent_id === intentId && isFinal(e), 10_000, what);

  async function spawned(o: Record<string, unknown> = {}): Promise<string> {
    const id = uuid();
    const uid = await send('instance.spawn', { instance_uuid: id, name: `fx-${id.slice(0, 8)}`, flavor, ...o });
    expect((await settled(uid, 'spawn')).event).to.equal('intent.succeeded');
    return id;
  }

  describe('dedupe keys on issuer, kind and id', () => {
    it('a read sent with an action\'s intent id does not answer the action', async () => {
      const instance = await spawned();
      const id = `shadow-${hex()}`;
      await send('instance.get_state', { instance_uuid: instance, intent_id: id });
      await log.until(() => log.outcomesOf(id).length, 1, 10_000, 'the read');
      await send('instance.pause', { instance_uuid: instance, intent_id: id });
      await log.until(() => log.outcomesOf(id).length, 2, 10_000, 'the pause');
      const pause = log.outcomesOf(id)[1];
      expect(pause).to.include({ event: 'intent.succeeded', kind: 'instance.pause', power_state: 'paused' });
      expect(pause).to.not.have.property('redelivered');
    });

    it('another issuer\'s signal with the same intent id does not suppress a Nova destroy', async () => {
      const instance = await spawned();
      const id = `shadow-${hex()}`;
      const { body } = bus.intentBody('port.ready', { port_id: `p-${hex().slice(0, 8)}`, intent_id: id });
      await bus.publish({ routingKey: `compute.${host}`, body, properties: { contentType: 'application/json', headers: signatureHeaders('neutron', NEUTRON_KEY, `compute.${host}`, body) } });
      await log.until(() => log.outcomesOf(id).length, 1, 10_000, 'Neutron\'s port.ready');
      expect(log.outcomesOf(id)[0]).to.include({ event: 'intent.succeeded', kind: 'port.ready' });
      await send('instance.destroy', { instance_uuid: instance, intent_id: id });
      await log.until(() => log.outcomesOf(id).length, 2, 10_000, 'Nova\'s destroy');
      const destroy = log.outcomesOf(id)[1];
      expect(destroy).to.include({ event: 'intent.succeeded', kind: 'instance.destroy', vm_state: 'deleted' });
      expect(destroy).to.not.have.property('redelivered');
    });
  });

  it('a uuid in upper case takes the same lane as in lower case: a pause waits for the spawn it follows', async () => {
    const instance = uuid();
    const port = { port_id: uuid(), mac_address: 'fa:16:3e:00:00:15', vif_type: 'bridge', network: { bridge: 'br0' } };
    // The spawn holds the instance's lane until Nova says the port is ready.
    const spawn = await send('instance.spawn', { instance_uuid: instance, name: `fx-${instance.slice(0, 8)}`, flavor, ports: [port] });
    const pause = await send('instance.pause', { instance_uuid: instance.toUpperCase() });
    await log.waitFor((e) => e.intent_id === pause && e.event === 'intent.accepted', 10_000, 'the pause accepted');
    // Accepted is published as the intent joins its lanes: it is waiting now, or already running.
    const waiting = w.worker.serializer.stats().waiting;
    await send('port.ready', { port_id: port.port_id });
    const spawnOutcome = await settled(spawn, 'the spawn');
    const pauseOutcome = await settled(pause, 'the pause');
    expect(waiting, 'the pause waits behind the spawn').to.equal(1);
    expect(spawnOutcome.event).to.equal('intent.succeeded');
    expect(log.events.indexOf(spawnOutcome), 'the spawn finishes first').to.be.lessThan(log.events.indexOf(pauseOutcome));
    expect(pauseOutcome).to.include({ event: 'intent.succeeded', instance_uuid: instance, power_state: 'paused' });
  });

  it('a sender\'s x-delivery-count does not make a first delivery poison', async () => {
    const instance = await spawned();
    const uid = await send('instance.pause', { instance_uuid: instance }, { properties: { ...NOVA, headers: { 'x-delivery-count': 50 } } });
    const outcome = await settled(uid, 'the pause');
    expect(outcome).to.include({ event: 'intent.succeeded', kind: 'instance.pause' });
  });

  it('a call naming someone else\'s queue as its reply queue is refused, and nothing is sent there', async () => {
    const instance = await spawned();
    const decoy = `hw-decoy-${host}`;
    const ch = await bus.channel();
    await ch.assertQueue(decoy, { durable: false, autoDelete: false });
    try {
      const uid = hex();
      const body = env({ method: 'instance.get_state', namespace: 'hostwall', version: '1.0', args: { instance_uuid: instance }, _unique_id: uid, _msg_id: hex(), _reply_q: decoy, _timeout: 1 });
      await bus.publish({ routingKey: `compute.${host}`, body, properties: NOVA });
      // Refused before its identifiers are trusted, so the refusal names no intent id: it names the queue.
      const refused = await log.waitFor((e) => (e.intent_id === uid && isFinal(e)) || (e.event === 'intent.rejected' && e.error.message.includes(decoy)), 10_000, 'the call');
      expect(refused).to.nested.include({ event: 'intent.rejected', 'error.code': 'NOT_OSLO_ENVELOPE' });
      // Anything the worker sent for that call went out before it settled it; the next intent comes after.
      const next = await send('instance.pause', { instance_uuid: instance });
      await settled(next, 'the next intent');
      expect(await bus.ready(decoy), 'messages the worker sent to the decoy').to.equal(0);
      await bus.deadLetters(host, 1);
    } finally {
      await ch.deleteQueue(decoy).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  });

  it('a CHAP volume names its secret by reference (a libvirt secret uuid): no password in the message', async () => {
    const instance = await spawned();
    const secret = uuid();
    const data = { target_iqn: 'iqn.2010-10.org.openstack:vol-ref', target_portal: '192.0.2.1:3260', target_lun: 1, auth_method: 'CHAP', auth_username: 'u', secret_uuid: secret };
    const uid = await send('volume.attach', { instance_uuid: instance, volume_id: 'vol-by-ref', connection_info: { driver_volume_type: 'iscsi', data } });
    const outcome = await settled(uid, 'the attach');
    expect(outcome, JSON.stringify(outcome)).to.include({ event: 'intent.succeeded', kind: 'volume.attach' });
    const xml = (await driver?.domainXml(instance)) ?? '';
    expect(xml).to.match(new RegExp(`<auth username=["']u["']>\\s*<secret type=["']iscsi["'] uuid=["']${secret}["']/>`));
  });

  describe('human output escapes control characters taken from messages', () => {
    const forged = 'x\u001b[2J\u001b]0;owned\u0007\r\n2099-01-01T00:00:00.000Z h1 intent.succeeded FORGED\u202e';

    it('events (a TTY line) and the pretty log', async () => {
      const uid = await send('instance.pause', { instance_uuid: uuid() }, { context: { issuer: forged } });
      const refused = await settled(uid, 'the refusal');
      expect(refused).to.nested.include({ 'error.code': 'ISSUER_REFUSED' });
      expect(JSON.stringify(refused), 'the event carries the claim').to.contain('FORGED');
      const line = eventLine(refused);
      expect(line).to.not.match(CONTROL);
      expect(line).to.contain('FORGED');
      // The worker logged the refusal before it published it.
      const lines = logText.split('\n').filter((l) => l !== '');
      expect(logText).to.contain('FORGED');
      for (const l of lines) {
        // What colorize adds around the level: ESC [ <n> m, and nothing else.
        const plain = l.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g'), '');
        expect(plain, 'a log line').to.not.match(CONTROL);
        expect(plain, 'every log line starts with its timestamp').to.match(/^\d{4}-\d{2}-\d{2}T/);
      }
    });

    it('inspect (a TTY row of a failed intent)', async () => {
      const instance = await spawned();
      const uid = await send('volume.attach', { instance_uuid: instance, volume_id: 'vol-x', connection_info: { driver_volume_type: `x${forged}`.slice(0, 64), data: {} } });
      expect((await settled(uid, 'the attach')).event).to.equal('intent.failed');
      const page = queryIntentsPage(INTENT_SCHEMAS['host.intents'].parse({ instance_uuid: instance, state: 'failed' }), w.worker.store);
      const failed = page.intents.find((r) => r.intent_id === uid);
      expect(failed?.error?.message, 'the stored error quotes the type').to.contain('\u001b[2J');
      const text = failed ? intentRow(failed) : '';
      expect(text).to.contain('NOT_SUPPORTED');
      expect(text).to.not.match(CONTROL);
    });

    it('replay --dry-run (a TTY row of a dead letter)', async () => {
      const body = env({ method: `instance.pause${forged}`, namespace: 'hostwall', version: '1.0', args: { instance_uuid: uuid() }, _unique_id: hex() });
      await bus.publish({ routingKey: `compute.${host}`, body, properties: NOVA });
      const transport = createAmqp091Transport({ url: AMQP_URL, connectionName: `test-dead-letters-${host}` });
      await transport.start();
      const reader = await DeadLetterReader.open(transport, deadLetterQueueName(host)).catch(async (err: unknown) => {
        await transport.close();
        throw err;
      });
      let text: string | undefined;
      try {
        text = await eventually('the dead letter', async () => {
          let row: string | undefined;
          for await (const h of reader.take()) {
            h.keep();
            if (h.msg.body.equals(body)) row = replayRow(describeMessage(h.msg), 'would-send');
          }
          return row;
        }, undefined, { intervalMs: 100 });
      } finally {
        await reader.close();
        await transport.close();
      }
      expect(text, 'the dead letter').to.be.a('string');
      expect(text).to.contain('FORGED');
      expect(text).to.not.match(CONTROL);
    });
  });
});
