/**
 * Secrets never leave the wall: connection_info auth keys and context tokens
 * appear in no log line, no native event, no Nova notification, no
 * dead-letter header and not in the intent store, whatever the outcome.
 */
import { expect } from 'chai';
import * as amqp from 'amqplib';
import { PassThrough } from 'node:stream';
import { TestBus } from '../fault/harness/bus';
import { AMQP_URL, type HostWorker, startHostWorker, tempStatePath } from '../fault/harness/in-process';
import { eventually } from '../support/eventually';
import { uniqueHost, uuid } from '../support/worker';

const SECRETS = ['S3CRET-chap-pw', 'K3YRING-ceph', 'T0KEN-keystone', 'R3VERSE-pw'];

describe('reliability: secrets are redacted in logs, events and the store', function () {
  this.timeout(60_000);
  let w: HostWorker;
  let bus: TestBus;
  let host: string;
  let seen = '';
  let conn: amqp.ChannelModel;

  before(async () => {
    host = uniqueHost('secrets');
    const logs = new PassThrough();
    logs.on('data', (d: Buffer) => {
      seen += d.toString();
    });
    w = await startHostWorker({ host, statePath: tempStatePath(), logStream: logs, config: { logLevel: 'debug' } });
    bus = await TestBus.connect(AMQP_URL);
    // Everything published on the control exchange's notification topics and the events exchange.
    conn = await amqp.connect(AMQP_URL);
    const ch = await conn.createChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, 'nova', 'versioned_notifications.#');
    await ch.bindQueue(q.queue, 'hostwall.events', `${host}.#`);
    await ch.consume(q.queue, (m) => {
      if (m) seen += `${m.content.toString()}${JSON.stringify(m.properties.headers ?? {})}\n`;
    }, { noAck: true });
  });

  after(async () => {
    await conn.close();
    await w.worker.stop(2_000);
    await bus.removeHost(host);
    await bus.close();
  });

  it('keeps connection_info auth and context tokens out of every output', async () => {
    const log = await bus.eventLog(host);
    const id = uuid();
    const context = { auth_token: SECRETS[2], request_id: 'req-secret-1' };
    await bus.cast(host, 'instance.spawn', { instance_uuid: id, name: `sec-${id.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } }, { context });
    const chap = { target_iqn: 'iqn.2010-10.org.openstack:vol-1', target_portal: '10.0.0.2:3260', target_lun: 1, auth_method: 'CHAP', auth_username: 'u', auth_password: SECRETS[0], discovery_auth_password: SECRETS[3] };
    const attach = await bus.cast(host, 'volume.attach', { instance_uuid: id, volume_id: 'vol-1', connection_info: { driver_volume_type: 'iscsi', data: chap } }, { context });
    const rbd = await bus.cast(host, 'volume.attach', { instance_uuid: id, volume_id: 'vol-2', connection_info: { driver_volume_type: 'rbd', data: { name: 'volumes/v2', auth_enabled: true, auth_username: 'cinder', secret_uuid: uuid(), keyring: SECRETS[1] } } }, { context });
    // And a refused one: dead-lettered with its body, but no secret in any header.
    await bus.cast(host, 'volume.attach', { instance_uuid: id, volume_id: 'vol-3', connection_info: { driver_volume_type: 'iscsi', data: chap }, bogus: SECRETS[0] }, { context });
    for (const i of [attach, rbd]) await log.waitFor((e) => e.intent_id === i && (e.event === 'intent.succeeded' || e.event === 'intent.failed'));
    await log.waitFor((e) => e.event === 'intent.rejected');
    const [dead] = await bus.deadLetters(host, 1);
    seen += JSON.stringify(dead?.headers ?? {});
    // The collecting queue gets the worker's events and notifications in the
    // order they were published: once a marker published now has come, so has
    // everything the worker published before it.
    const marker = `marker-${uuid()}`;
    const ch = await conn.createConfirmChannel();
    ch.publish('hostwall.events', `${host}.test.marker`, Buffer.from(marker));
    await ch.waitForConfirms();
    await ch.close();
    await eventually('the marker, behind everything the worker published', () => seen.includes(marker));
    for (const i of [attach, rbd]) seen += `${w.worker.store.withId(i)[0]?.args ?? ''}${w.worker.store.withId(i)[0]?.outcome ?? ''}`;
    expect(w.worker.store.withId(rbd)[0]?.args, 'the store keeps the args, redacted').to.contain('"keyring":"***"');
    expect(seen).to.contain('req-secret-1');
    expect(seen).to.contain('vol-1');
    for (const s of SECRETS) expect(seen, s).to.not.contain(s);
  });
});
