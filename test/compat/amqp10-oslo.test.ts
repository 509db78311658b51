/**
 * Issue 7's "done when", against the real thing: Debian's oslo.messaging RPC
 * client (rabbit driver, AMQP 0-9-1) calls and casts intents to a hostwall
 * worker that consumes, replies and publishes notifications over AMQP 1.0
 * (rhea, RabbitMQ 3.x's rabbitmq_amqp1_0 plugin); a real oslo notification
 * listener receives Nova's notifications the worker published over 1.0.
 *
 * Everything runs in a vhost of its own, deleted at the end.
 */
import { ackOnReceipt } from '../../src/transport/transport';
import { expect } from 'chai';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../src/config';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { createLogger } from '../../src/log';
import { type Amqp10Transport, createAmqp10Transport } from '../../src/transport/amqp10';
import type { InboundMessage } from '../../src/transport/transport';
import { Worker } from '../../src/worker/worker';
import { IntentClient } from '../../src/client/intent-client';
import { EVENTS_EXCHANGE } from '../../src/events/schemas';
import { deadLetterQueueName } from '../../src/oslo/wire/oslo-wire';
import { Admin, addVhost, deleteVhost, RABBITMQCTL } from '../support/broker';
import { notificationsAbout, type PyPeer, startPython } from '../support/python';
import { uniqueHost, uuid } from '../support/worker';

const PY = join(__dirname, '..', '..', '..', 'test', 'compat', 'py');
const FLAVOR = { vcpus: 1, memory_mb: 128, root_gb: 1 };

/** A worker like test/support/worker.ts's startWorker, but on the AMQP 1.0 transport. */
async function startAmqp10Worker(amqpUrl: string): Promise<{ worker: Worker; config: Config; transport: Amqp10Transport }> {
  const level = process.env.TEST_LOG_LEVEL ?? 'error';
  const config = loadConfig({
    env: {},
    flags: { amqpUrl, host: uniqueHost('amqp10'), logLevel: level, logFormat: 'json', instancesPath: join(tmpdir(), 'hostwall-test-instances'), notificationFormat: 'versioned' },
  });
  const log = createLogger({ level: config.logLevel, format: 'json' });
  const driver = await openLibvirtDriver({ uri: config.libvirtUri, connections: config.libvirtConnections, instancesPath: config.instancesPath });
  const transport = createAmqp10Transport({
    url: amqpUrl.replace(/^amqp:/, 'amqp10:'),
    addresses: 'rabbitmq3',
    connectionName: `hostwall-test-worker-amqp10:${config.host}`,
    log: (lvl, message, meta) => log.log(lvl, message, meta ?? {}),
  });
  const worker = new Worker({ config, log, transport, driver });
  await worker.start();
  return { worker, config, transport };
}

(RABBITMQCTL ? describe : describe.skip)('compat: a real oslo.messaging client and listener talk to a worker over AMQP 1.0', function () {
  this.timeout(120_000);
  const vhost = `hostwall_compat10_${uuid().slice(0, 8)}`;
  let url: string;
  let worker: Worker;
  let transport: Amqp10Transport;
  let host: string;
  let client: PyPeer;
  let listener: PyPeer;

  before(async () => {
    url = await addVhost(vhost);
    ({ worker, transport, config: { host } } = await startAmqp10Worker(url));
    listener = startPython(join(PY, 'oslo_listener.py'), { AMQP_URL: url, EXCHANGE: 'nova', POOL: `compat10-${host}` });
    expect(await listener.next(60_000)).to.deep.equal({ ready: true });
    client = startPython(join(PY, 'oslo_intent_client.py'), { AMQP_URL: url, EXCHANGE: 'nova', HOST: host });
    expect(await client.next(60_000)).to.deep.equal({ ready: true });
  });

  after(async () => {
    await client?.close();
    await listener?.close();
    await worker?.stop(5_000);
    await deleteVhost(vhost);
  });

  async function step(s: Record<string, unknown>): Promise<Record<string, unknown>> {
    client.send(s);
    return client.next(60_000);
  }
  const call = (method: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) => step({ op: 'call', method, args, ...extra });

  it('runs on the AMQP 1.0 transport with RabbitMQ 3.x addresses', () => {
    expect(transport.addressFamily).to.equal('rabbitmq3');
    expect(transport.connectionGeneration).to.equal(1);
  });

  it('spawns, powers off and destroys through oslo calls, with replies sent over 1.0 to oslo reply queues', async () => {
    const id = uuid();
    const spawned = await call('instance.spawn', { instance_uuid: id, name: `a10-${id.slice(0, 8)}`, flavor: FLAVOR, image: { id: 'cirros' } });
    expect(spawned, JSON.stringify(spawned)).to.have.property('ok', true);
    expect(spawned.result).to.deep.include({ kind: 'instance.spawn', outcome: 'succeeded' });

    const off = await call('instance.power_off', { instance_uuid: id });
    expect(off, JSON.stringify(off)).to.have.property('ok', true);
    expect((off.result as { instance: unknown }).instance).to.deep.include({ instance_uuid: id, power_state: 'shutdown' });

    const state = await call('instance.get_state', { instance_uuid: id });
    expect(state, JSON.stringify(state)).to.have.property('ok', true);
    expect(state.result).to.deep.include({ instance_uuid: id, power_state: 'shutdown' });

    const destroyed = await call('instance.destroy', { instance_uuid: id });
    expect(destroyed.result).to.deep.include({ existed: true });

    // Nova's notifications, published by the worker over 1.0, reached a real oslo listener.
    const wanted = ['instance.create.end', 'instance.power_off.end', 'instance.delete.end'];
    const seen = await notificationsAbout(listener, id, wanted);
    expect([...seen.keys()]).to.include.members(wanted);
    for (const n of seen.values()) expect(n.publisher_id).to.equal(`nova-compute:${host}`);
  });

  it('answers invalid intents with a RemoteError naming the problem, as over 0-9-1', async () => {
    const missing = await call('instance.power_on', {});
    expect(missing).to.deep.include({ ok: false, exc_class: 'RemoteError', exc_type: 'InvalidIntent' });
    expect(String(missing.value)).to.contain('instance_uuid');
    const unknown = await call('instance.teleport', { instance_uuid: uuid() });
    expect(unknown).to.deep.include({ ok: false, exc_type: 'NoSuchMethod' });
    const inv = await call('host.inventory', {});
    expect(inv, JSON.stringify(inv)).to.have.property('ok', true);
  });

  it('applies casts in order with a later call for the same instance', async () => {
    const id = uuid();
    expect(await step({ op: 'cast', method: 'instance.spawn', args: { instance_uuid: id, name: `c10-${id.slice(0, 8)}`, flavor: FLAVOR } })).to.deep.equal({ ok: true, result: null });
    expect(await step({ op: 'cast', method: 'instance.pause', args: { instance_uuid: id } })).to.deep.equal({ ok: true, result: null });
    const r = await call('instance.unpause', { instance_uuid: id });
    expect(r, JSON.stringify(r)).to.have.property('ok', true);
    expect((r.result as { instance: unknown }).instance).to.deep.include({ power_state: 'running' });
    await call('instance.destroy', { instance_uuid: id });
  });

  it('dead-letters a message that is not oslo JSON; its reason headers survive for a reader over 1.0', async () => {
    const admin = await Admin.open(url);
    const reader = createAmqp10Transport({ url: url.replace(/^amqp:/, 'amqp10:'), connectionName: `dlq-reader:${host}` });
    try {
      await admin.with(async (ch) => {
        ch.publish('nova', `compute.${host}`, Buffer.from('not json at all'), { contentType: 'application/json' });
      });
      await reader.start();
      const found = new Promise<InboundMessage>((resolve) => {
        void reader.consume([deadLetterQueueName(host)], { prefetch: 50 }, ackOnReceipt((m) => {
          if (m.body.toString() === 'not json at all') resolve(m);
        }));
      });
      const dead = await found;
      expect(dead.headers).to.deep.include({ 'x-hostwall-reason': 'NOT_JSON', 'x-hostwall-original-queue': `compute.${host}` });
    } finally {
      await reader.close();
      await admin.close();
    }
  });

  it('serves the sender and the events tail over 1.0 too: an IntentClient call, and events on an exclusive tail queue', async () => {
    const cli = createAmqp10Transport({ url: url.replace(/^amqp:/, 'amqp10:'), connectionName: `sender:${host}` });
    try {
      await cli.start();
      // What `hostwall events --host <host>` declares.
      const tail = `hostwall.tail.${uuid()}`;
      await cli.declare({
        exchanges: [{ name: EVENTS_EXCHANGE, type: 'topic', durable: true, autoDelete: false, arguments: {} }],
        queues: [{ name: tail, durable: false, autoDelete: true, exclusive: true, arguments: {} }],
        bindings: [{ queue: tail, exchange: EVENTS_EXCHANGE, routingKey: `${host}.#` }],
      });
      const events: string[] = [];
      const succeeded = new Promise<void>((resolve) => {
        void cli.consume([tail], { prefetch: 100 }, ackOnReceipt((m) => {
          events.push(m.routingKey);
          if (m.routingKey === `${host}.intent.succeeded`) resolve();
        }));
      });
      // What `hostwall call` does.
      const client = new IntentClient(cli, { controlExchange: 'nova' });
      const inv = (await client.call(host, 'host.inventory', {}, { context: { issuer: 'operator' }, timeoutMs: 30_000 })) as Record<string, unknown>;
      expect(inv).to.include.keys('vcpus', 'memory_mb');
      await succeeded;
      expect(events).to.include(`${host}.intent.succeeded`);
    } finally {
      await cli.close();
    }
  });
});
