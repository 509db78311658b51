/**
 * Golden Nova fixtures replayed through the dispatcher (Temporal's history
 * replay, for the wall): every message Debian's real Zed ComputeAPI sent
 * (test/fixtures/nova/*.json, captured by test/compat/nova-capture.test.ts)
 * is published as it was, to exchange `nova` with routing key
 * `compute.<host>`, to a real worker on the libvirt test driver, each with a
 * fresh `_unique_id` (and, for calls, this test's reply queue). Each one
 * must reach the driver (its outcome and the guest's state say so) or be
 * refused for its documented reason (dead-lettered, intent.rejected, and a
 * call answered with the RemoteError Nova would see). Nova's versioned
 * notifications for each action are checked at the end.
 *
 * The order is a guest's life, and it shows how the worker learns what
 * Nova's messages leave out (host-state/learnt-bindings.ts): a build with a port
 * nobody described is refused; Neutron's event for that port (relayed by
 * Nova, with the instance's network info cache) teaches it and is
 * remembered, so the build then goes through without waiting; a Nova
 * attach_volume without connection_info works once Cinder's own attach told
 * the worker the connection of that attachment.
 */
import { randomUUID } from 'node:crypto';
import * as amqp from 'amqplib';
import { expect } from 'chai';
import type { LibvirtDriver } from '../../src/drivers/libvirt/driver';
import type { HostwallEvent } from '../../src/events/schemas';
import { decodeOsloBody, envelopeJson } from '../../src/oslo/envelope';
import { decodeRpcReply, type ReplyValue } from '../../src/oslo/rpc-reply';
import { replyQueueName } from '../../src/oslo/topology';
import { DEAD_LETTER_HEADERS } from '../../src/oslo/wire/oslo-wire';
import type { Worker } from '../../src/worker/worker';
import { loadNovaFixtures, type NovaFixture } from '../compat/nova-capture-fixtures';
import { type EventLog, TestBus } from '../fault/harness/bus';
import { AMQP_URL, startWorker } from '../support/worker';

// The fixed ids of test/compat/py/nova_objects_fixture.py.
const INSTANCE = 'a3b8e0f2-5c1d-4e6f-9a7b-2c3d4e5f6a7b';
const PORT = '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b';
const NEW_PORT = '7a2e3c4d-5e6f-4071-8c8d-9e0f1a2b3c4d';
const VOLUME = '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const ATTACHMENT = '2d3e4f50-6172-4839-8a4b-5c6d7e8f9a0b';
const REQUEST_ID = 'req-4d3f8a52-6a0e-4f47-9c3e-1b2a3c4d5e6f';

interface Notification {
  event_type: string;
  publisher_id: string;
  priority: string;
  payload: Record<string, unknown>;
  context_request_id: unknown;
}

/** Nova's side of the bus: publishes fixtures, reads replies, collects versioned notifications. */
class NovaSide {
  readonly notifications: Notification[] = [];
  /** Call-monitor heartbeats (non-final empty replies) per _msg_id. */
  readonly heartbeats = new Map<string, number>();
  private readonly replies = new Map<string, (v: ReplyValue) => void>();
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly ch: amqp.ConfirmChannel,
    private readonly replyQueue: string,
  ) {}

  static async open(host: string): Promise<NovaSide> {
    const conn = await amqp.connect(AMQP_URL);
    conn.on('error', () => undefined);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    // Named as oslo names reply queues: the worker answers no other.
    const replyQ = (await ch.assertQueue(replyQueueName(), { exclusive: true, autoDelete: true })).queue;
    const notifQ = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    await ch.assertExchange('nova', 'topic', { durable: false });
    for (const p of ['info', 'error']) await ch.bindQueue(notifQ, 'nova', `versioned_notifications.${p}`);
    const side = new NovaSide(conn, ch, replyQ);
    await ch.consume(replyQ, (m) => {
      if (!m) return;
      const r = decodeRpcReply(decodeOsloBody(m.content, m.properties.contentType, m.properties.contentEncoding));
      if (r?.ending && r.msgId) side.replies.get(r.msgId)?.(r.value);
      else if (r?.msgId && r.value.kind === 'none') side.heartbeats.set(r.msgId, (side.heartbeats.get(r.msgId) ?? 0) + 1);
    }, { noAck: true });
    await ch.consume(notifQ, (m) => {
      if (!m) return;
      const n = decodeOsloBody(m.content, m.properties.contentType, m.properties.contentEncoding) as Record<string, unknown>;
      if (n.publisher_id !== `nova-compute:${host}`) return;
      side.notifications.push({
        event_type: String(n.event_type), publisher_id: String(n.publisher_id), priority: String(n.priority),
        payload: n.payload as Record<string, unknown>, context_request_id: n._context_request_id,
      });
    }, { noAck: true });
    return side;
  }

  /** Publish a fixture's message as Nova sent it, with a fresh _unique_id; a call also gets its reply. */
  async send(host: string, f: NovaFixture, over: Record<string, unknown> = {}): Promise<{ uniqueId: string; msgId: string; reply: Promise<ReplyValue> | undefined }> {
    const uniqueId = randomUUID().replace(/-/g, '');
    const message: Record<string, unknown> = { ...f.message, ...over, _unique_id: uniqueId };
    let reply: Promise<ReplyValue> | undefined;
    const msgId = randomUUID().replace(/-/g, '');
    if (f.call) {
      Object.assign(message, { _msg_id: msgId, _reply_q: this.replyQueue });
      reply = new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no reply to ${f.method} in 30 s`)), 30_000);
        this.replies.set(msgId, (v) => {
          clearTimeout(t);
          resolve(v);
        });
      });
    }
    this.ch.publish('nova', `compute.${host}`, Buffer.from(envelopeJson(message), 'utf8'), { contentType: 'application/json', contentEncoding: 'utf-8' });
    await this.ch.waitForConfirms();
    return { uniqueId, msgId, reply };
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

const result = (v: ReplyValue): unknown => {
  if (v.kind !== 'result') throw new Error(`expected a result, got ${v.kind === 'failure' ? `${v.error.osloClass}: ${v.error.message}` : 'none'}`);
  return v.result;
};

const failure = (v: ReplyValue): { osloClass: string; message: string } => {
  if (v.kind !== 'failure') throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
  return { osloClass: v.error.osloClass, message: v.error.message };
};

describe('Nova golden fixtures through the dispatcher, to the libvirt test driver', function () {
  this.timeout(120_000);
  const fixtures = new Map([...loadNovaFixtures()].filter(([file]) => !file.includes('/')));
  const sent = new Set<string>();
  let worker: Worker;
  let host: string;
  let nova: NovaSide;
  let bus: TestBus;
  let log: EventLog;

  before(async () => {
    ({ worker, config: { host } } = await startWorker({ notificationFormat: 'versioned', vifPluggingTimeoutMs: 20_000 }));
    nova = await NovaSide.open(host);
    bus = await TestBus.connect(AMQP_URL);
    log = await bus.eventLog(host);
  });

  after(async () => {
    await worker?.dispatcher.driver.destroy(INSTANCE, { keepDisks: false }).catch(() => undefined);
    await worker?.stop(5_000);
    await nova?.close();
    await bus?.removeHost(host);
    await bus?.close();
  });

  function fixture(name: string): NovaFixture {
    const f = fixtures.get(`${name}.json`);
    if (!f) throw new Error(`no Zed fixture ${name}`);
    sent.add(`${name}.json`);
    return f;
  }

  /** The final native event of an intent (or a refusal) with this id. */
  const final = (intentId: string, timeoutMs = 30_000): Promise<HostwallEvent> =>
    log.waitFor((e) => e.intent_id === intentId && ['intent.succeeded', 'intent.failed', 'intent.rejected'].includes(e.event), timeoutMs, `the outcome of ${intentId}`);

  async function cast(name: string): Promise<HostwallEvent> {
    const { uniqueId } = await nova.send(host, fixture(name));
    return final(uniqueId);
  }

  async function succeeds(name: string): Promise<HostwallEvent> {
    const e = await cast(name);
    expect(e, `${name}: ${JSON.stringify(e)}`).to.deep.include({ event: 'intent.succeeded' });
    return e;
  }

  async function call(name: string): Promise<{ value: ReplyValue; event: HostwallEvent }> {
    const { uniqueId, reply } = await nova.send(host, fixture(name));
    if (!reply) throw new Error(`${name} is not a call`);
    const [value, event] = await Promise.all([reply, final(uniqueId)]);
    return { value, event };
  }

  const power = async () => (await worker.dispatcher.driver.getState(INSTANCE)).power_state;
  /** The guest's persistent definition (the test driver cannot hot-plug: device intents change it). */
  const xml = () => (worker.dispatcher.driver as LibvirtDriver).domainXml(INSTANCE);

  async function refused(name: string, code: string, pattern: RegExp): Promise<void> {
    const e = await cast(name);
    expect(e.event, name).to.equal('intent.rejected');
    if (e.event !== 'intent.rejected') return;
    expect(e.error.code, name).to.equal(code);
    expect(e.error.message, name).to.match(pattern);
    expect(e.request_id, 'the Nova context\'s request id').to.equal(REQUEST_ID);
  }

  it('refuses what it cannot serve, for the documented reasons, and dead-letters each cast with its reason', async () => {
    await refused('build_and_run_instance', 'INVALID_INTENT', /^Nova build_and_run_instance: port 5e0c1a2b-.* is not known to hostwall: .*hostwall does not call Neutron/);
    await refused('build_and_run_instance.volume', 'INVALID_INTENT', /port 5e0c1a2b-.* is not known to hostwall/);
    await refused('attach_volume', 'INVALID_INTENT', /^Nova attach_volume: volume 9c8b7a6d-.* \(attachment 2d3e4f50-.*\) has no connection_info: .*hostwall does not call Cinder/);
    await refused('attach_interface.network', 'INVALID_INTENT', /network 1b2c3d4e-.* without a port: nova-compute would create the port in Neutron/);
    await refused('rescue_instance', 'UNKNOWN_KIND', /^Nova compute RPC method rescue_instance is not supported by hostwall yet$/);
    await refused('external_instance_event.power_update', 'UNKNOWN_KIND', /^Nova external instance event power-update is not supported by hostwall yet$/);
    const dead = await bus.deadLetters(host, 6);
    expect(dead.map((d) => d.headers[DEAD_LETTER_HEADERS.reason])).to.deep.equal(['INVALID_INTENT', 'INVALID_INTENT', 'INVALID_INTENT', 'INVALID_INTENT', 'UNKNOWN_KIND', 'UNKNOWN_KIND']);
    // A call is answered with the RemoteError class Nova's caller sees (and dead-lettered too).
    const { value } = await call('attach_interface');
    expect(failure(value)).to.deep.include({ osloClass: 'InvalidIntent' });
    expect(failure(value).message).to.match(/port 7a2e3c4d-.* is not known to hostwall/);
    expect((await bus.deadLetters(host, 1)).map((d) => d.headers[DEAD_LETTER_HEADERS.reason])).to.deep.equal(['INVALID_INTENT']);
  });

  it('answers get_host_uptime from the host, and acks an event with no host effect without publishing anything', async () => {
    const { value, event } = await call('get_host_uptime');
    expect(result(value)).to.be.a('string').and.match(/ up .*load average/);
    expect(event).to.deep.include({ event: 'intent.succeeded', kind: 'host.uptime' });
    const { uniqueId } = await nova.send(host, fixture('external_instance_event.unplugged'));
    // A later message's outcome is a barrier: by then the event was taken (acked) without a word.
    await call('get_host_uptime');
    expect(await bus.ready(`hostwall.dead.${host}`), 'nothing dead-lettered').to.equal(0);
    expect(log.events.filter((e) => e.intent_id?.startsWith(uniqueId))).to.deep.equal([]);
    expect(await bus.ready(`compute.${host}`)).to.equal(0);
  });

  it('learns the port from Neutron\'s event (relayed by Nova) and remembers it, so the build goes through', async () => {
    const ready = await succeeds('external_instance_event');
    expect(ready).to.deep.include({ kind: 'port.ready' });
    const built = await succeeds('build_and_run_instance');
    expect(built).to.deep.include({ kind: 'instance.spawn', instance_uuid: INSTANCE, power_state: 'running', vm_state: 'active' });
    expect(await power()).to.equal('running');
  });

  it('stops, starts, reboots, pauses, unpauses, suspends and resumes the guest in the driver', async () => {
    await succeeds('stop_instance');
    expect(await power()).to.equal('shutdown');
    await succeeds('start_instance');
    expect(await power()).to.equal('running');
    const stop = await call('stop_instance.call');
    expect(stop.value, 'stop_instance returns None').to.deep.equal({ kind: 'none' });
    expect(await power()).to.equal('shutdown');
    await succeeds('start_instance');
    await succeeds('reboot_instance');
    await succeeds('reboot_instance.hard');
    expect(await power()).to.equal('running');
    for (const [name, state] of [['pause_instance', 'paused'], ['unpause_instance', 'running'], ['suspend_instance', 'suspended'], ['resume_instance', 'running']] as const) {
      await succeeds(name);
      expect(await power(), name).to.equal(state);
    }
  });

  it('reserves device names (answered with the BDM Nova reads), and refuses the console output the test driver does not have', async () => {
    const first = await call('reserve_block_device_name');
    const bdm = result(first.value) as Record<string, Record<string, unknown>>;
    expect(bdm['nova_object.name']).to.equal('BlockDeviceMapping');
    expect(bdm['nova_object.data']).to.deep.include({ device_name: '/dev/vdb', volume_id: VOLUME, instance_uuid: INSTANCE });
    const again = await call('reserve_block_device_name.device');
    expect((result(again.value) as Record<string, Record<string, unknown>>)['nova_object.data']).to.deep.include({ device_name: '/dev/vdc', disk_bus: 'virtio', tag: 'data' });
    const console = await call('get_console_output');
    expect(failure(console.value)).to.deep.include({ osloClass: 'NotSupported' });
    expect(failure(console.value).message).to.match(/has no console to read output from/);
  });

  it('attaches, extends and detaches a volume; a CHAP volume fails in the test driver, which has no secrets', async () => {
    const chap = await cast('attach_volume.connection_info');
    expect(chap).to.deep.include({ event: 'intent.failed', kind: 'volume.attach' });
    if (chap.event === 'intent.failed') expect(chap.error.code).to.equal('NOT_SUPPORTED');
    // Cinder attaches the same attachment itself (a file volume): the worker learns its connection.
    const { body, uniqueId: cinder } = bus.intentBody('volume.attach', {
      instance_uuid: INSTANCE, volume_id: VOLUME, attachment_id: ATTACHMENT, connection_info: { driver_volume_type: 'file', data: { device_path: `/var/lib/hostwall/volumes/${VOLUME}` } },
    }, { context: { issuer: 'cinder' }, version: '1.1' });
    await bus.publish({ routingKey: `compute.${host}`, body, properties: { contentType: 'application/json', contentEncoding: 'utf-8' } });
    expect(await final(cinder)).to.deep.include({ event: 'intent.succeeded' });
    await succeeds('external_instance_event.volume_extended');
    await succeeds('detach_volume');
    expect(await xml()).not.to.contain(VOLUME);
    // Nova's own attach_volume (no connection_info in Zed) now has the connection of its attachment.
    await succeeds('attach_volume');
    expect(await xml()).to.match(new RegExp(`<target dev='vdb'[^>]*/>[\\s\\S]*<serial>${VOLUME}</serial>|<serial>${VOLUME}</serial>[\\s\\S]*<target dev='vdb'`));
  });

  it('plugs and unplugs interfaces: Nova\'s attach_interface confirms the port Neutron plugged, and events unplug', async () => {
    const port = (id: string, mac: string) => ({ port_id: id, mac_address: mac, vif_type: 'ovs', network: { bridge: 'br-int', mtu: 1442 } });
    const plugged = await bus.cast(host, 'port.plug', { instance_uuid: INSTANCE, port: port(NEW_PORT, 'fa:16:3e:4c:2d:12') }, { context: { issuer: 'neutron' } });
    expect(await final(plugged)).to.deep.include({ event: 'intent.succeeded' });
    const { value } = await call('attach_interface');
    expect(result(value)).to.deep.include({ id: NEW_PORT, address: 'fa:16:3e:4c:2d:12', type: 'ovs', devname: `tap${NEW_PORT.slice(0, 11)}` });
    await succeeds('detach_interface');
    expect(await xml()).not.to.contain('fa:16:3e:4c:2d:10');
    // libvirt 9.0's test driver cannot hot-unplug: the running guest keeps the port until it is restarted.
    await succeeds('stop_instance');
    await succeeds('start_instance');
    // Neutron plugs the spawn's port again; Nova's network-vif-deleted takes it out.
    const again = await bus.cast(host, 'port.plug', { instance_uuid: INSTANCE, port: port(PORT, 'fa:16:3e:4c:2d:10') }, { context: { issuer: 'neutron' } });
    expect(await final(again)).to.deep.include({ event: 'intent.succeeded' });
    expect(await xml()).to.contain('fa:16:3e:4c:2d:10');
    await succeeds('external_instance_event.deleted');
    const after = await xml();
    expect(after).not.to.contain('fa:16:3e:4c:2d:10');
    expect(after).to.contain('fa:16:3e:4c:2d:12');
  });

  it('runs each event of a batch as its own intent, and acks the message when both are final', async () => {
    const failed = await succeeds('external_instance_event.failed');
    expect(failed).to.deep.include({ kind: 'port.ready' });
    const { uniqueId } = await nova.send(host, fixture('external_instance_event.batch'));
    const [a, b] = await Promise.all([final(`${uniqueId}:0`), final(`${uniqueId}:1`)]);
    expect([a?.event, b?.event]).to.deep.equal(['intent.succeeded', 'intent.succeeded']);
    expect([a, b].map((e) => (e && 'kind' in e ? e.kind : undefined))).to.deep.equal(['port.ready', 'port.ready']);
  });

  it('terminates, then boots from the volume with the facts it learnt, and terminates again', async () => {
    const gone = await succeeds('terminate_instance');
    expect(gone).to.deep.include({ kind: 'instance.destroy', vm_state: 'deleted' });
    // The batch's network-vif-plugged for the port (after the failed one) is remembered: the boot does not wait.
    const boot = await succeeds('build_and_run_instance.volume');
    expect(boot).to.deep.include({ kind: 'instance.spawn', power_state: 'running' });
    expect(await xml()).to.contain(`/var/lib/hostwall/volumes/${VOLUME}`);
    const again = await nova.send(host, fixture('terminate_instance'));
    expect(await final(again.uniqueId)).to.deep.include({ event: 'intent.succeeded', vm_state: 'deleted' });
  });

  it('sends oslo\'s call-monitor heartbeats while a Nova call with _timeout waits its turn', async () => {
    // A build waiting for its port's network-vif-plugged holds the instance's lane...
    const build = await nova.send(host, fixture('build_and_run_instance'));
    await log.waitFor((e) => e.event === 'intent.accepted' && e.intent_id === build.uniqueId);
    // ...so a stop call with a 2 s call-monitor timeout waits behind it, heartbeating every second.
    const stop = await nova.send(host, fixture('stop_instance.call'), { _timeout: 2 });
    await log.until(() => nova.heartbeats.get(stop.msgId) ?? 0, 2, 10_000, 'two heartbeats');
    expect(log.events.some((e) => e.intent_id === stop.uniqueId && e.event !== 'intent.accepted'), 'the stop has not run yet').to.equal(false);
    await succeeds('external_instance_event');
    expect(await final(build.uniqueId)).to.deep.include({ event: 'intent.succeeded', kind: 'instance.spawn' });
    expect(await stop.reply).to.deep.equal({ kind: 'none' });
    expect(await power()).to.equal('shutdown');
    const again = await nova.send(host, fixture('terminate_instance'));
    expect(await final(again.uniqueId)).to.deep.include({ event: 'intent.succeeded', vm_state: 'deleted' });
  });

  it('sent every Zed fixture', () => {
    expect([...fixtures.keys()].filter((k) => !sent.has(k))).to.deep.equal([]);
  });

  it('published Nova\'s versioned notifications for each action, from nova-compute:<host>, with Nova\'s request id', async () => {
    const wanted = [
      'instance.create.start', 'instance.create.end', 'instance.power_off.start', 'instance.power_off.end',
      'instance.power_on.start', 'instance.power_on.end', 'instance.reboot.start', 'instance.reboot.end',
      'instance.pause.start', 'instance.pause.end', 'instance.unpause.start', 'instance.unpause.end',
      'instance.suspend.start', 'instance.suspend.end', 'instance.resume.start', 'instance.resume.end',
      'instance.volume_attach.start', 'instance.volume_attach.end', 'instance.volume_attach.error',
      'instance.volume_detach.start', 'instance.volume_detach.end', 'instance.interface_attach.start',
      'instance.interface_attach.end', 'instance.interface_detach.start', 'instance.interface_detach.end',
      'instance.delete.start', 'instance.delete.end',
    ];
    await log.until(() => wanted.filter((w) => nova.notifications.some((n) => n.event_type === w)).length, wanted.length, 15_000, 'the notifications');
    const fromNova = nova.notifications.filter((n) => n.context_request_id === REQUEST_ID);
    for (const w of wanted) expect(nova.notifications.map((n) => n.event_type), w).to.include(w);
    expect(fromNova.length, 'notifications of Nova\'s requests carry its request id').to.be.greaterThan(20);
    const error = nova.notifications.find((n) => n.event_type === 'instance.volume_attach.error');
    expect(error?.priority).to.equal('ERROR');
    const off = nova.notifications.find((n) => n.event_type === 'instance.power_off.end');
    expect((off?.payload['nova_object.data'] as Record<string, unknown>)).to.deep.include({ uuid: INSTANCE, state: 'stopped', power_state: 'shutdown', host });
  });
});
