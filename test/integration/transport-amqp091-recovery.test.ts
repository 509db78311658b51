/**
 * Recovery of the AMQP 0-9-1 transport when the broker drops its connection
 * (`rabbitmqctl close_all_connections` in a vhost of the test's own, so no
 * other client of the broker is touched). Skipped without rabbitmqctl.
 */
import { expect } from 'chai';
import type { Amqp091Transport } from '../../src/transport/amqp091';
import type { Topology } from '../../src/transport/transport';
import { Admin, AMQP_URL, RABBITMQCTL, rabbitmqctl, uid, urlWithVhost } from '../support/broker';
import { Inbox } from '../support/inbox';
import { json, LogTap, queueTopology, transportFor } from './transport-fixtures.test';

(RABBITMQCTL ? describe : describe.skip)('amqp091 transport recovery (real broker, rabbitmqctl)', function () {
  this.timeout(60000);
  const vhost = `hostwall_it_${uid()}`;
  const url = urlWithVhost(AMQP_URL, vhost);
  let admin: Admin;
  let tap: LogTap;
  let t: Amqp091Transport;

  before(async () => {
    await rabbitmqctl('add_vhost', vhost);
    await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
    admin = await Admin.open(url);
  });
  after(async () => {
    await admin?.close();
    await rabbitmqctl('delete_vhost', vhost);
  });
  beforeEach(async () => {
    tap = new LogTap();
    t = transportFor(url, tap);
    await t.start();
  });
  afterEach(async () => {
    await t.close();
  });

  /** Drop every connection of the test vhost (ours, and the admin's) and wait until our consumers are back. */
  async function dropConnections(): Promise<void> {
    const resumed = tap.next((m) => m === 'consumers resumed');
    await rabbitmqctl('close_all_connections', '--vhost', vhost, 'hostwall recovery test');
    await resumed;
    admin = await Admin.open(url);
  }

  it('reconnects, re-declares the topology (an auto-delete queue came back) and resumes consuming', async () => {
    const id = uid();
    const x = `hw-rec-x-${id}`;
    // auto_delete: the broker deletes the queue when our consumer's connection goes, so
    // consuming again only works if the transport declared it again.
    const q = `hw-rec-auto-${id}`;
    const topo: Topology = queueTopology(q, { exchange: x, autoDelete: true });
    await t.declare(topo);
    const inbox = new Inbox();
    await t.consume([q], { prefetch: 5 }, inbox.push);
    expect(await t.publish(json(x, q, { before: true }))).to.equal('confirmed');
    await (await inbox.next()).settle('ack');
    expect(t.connectionGeneration).to.equal(1);

    await dropConnections();

    expect(t.connectionGeneration).to.equal(2);
    expect(await admin.exists(q)).to.equal(true);
    expect(await t.publish(json(x, q, { after: true }))).to.equal('confirmed');
    const m = await inbox.next();
    expect(JSON.parse(m.body.toString())).to.deep.equal({ after: true });
    await m.settle('ack');
  });

  it('redelivers what was unsettled at the loss; settling the stale delivery is a harmless no-op', async () => {
    const q = `hw-rec-q-${uid()}`;
    await t.declare(queueTopology(q));
    const inbox = new Inbox();
    await t.consume([q], { prefetch: 5 }, inbox.push);
    await t.publish(json('', q, { n: 1 }));
    const stale = await inbox.next();
    expect(stale.redelivered).to.equal(false);

    await dropConnections();

    await stale.settle('ack'); // its channel is gone: nothing is sent, nothing breaks
    const again = await inbox.next();
    expect(again.redelivered).to.equal(true);
    expect(JSON.parse(again.body.toString())).to.deep.equal({ n: 1 });
    await again.settle('ack');
    await t.cancelConsumers();
    expect(await admin.messageCount(q)).to.equal(0);
    await admin.remove([q]);
  });

  it('publishes again after the loss on a new confirm channel', async () => {
    const q = `hw-rec-p-${uid()}`;
    await t.declare(queueTopology(q));
    await t.consume([q], { prefetch: 1 }, (m) => void m.settle('ack'));
    await dropConnections();
    expect(await t.publish(json('', q, { n: 2 }, { mandatory: true }))).to.equal('confirmed');
    await admin.remove([q]);
  });

  it('does not resume consumers that were cancelled before the loss', async () => {
    const q = `hw-rec-c-${uid()}`;
    await t.declare(queueTopology(q));
    await t.consume([q], { prefetch: 1 }, (m) => void m.settle('ack'));
    await t.cancelConsumers();
    const up = tap.next((m) => m === 'amqp connection up');
    await rabbitmqctl('close_all_connections', '--vhost', vhost, 'hostwall recovery test');
    await up;
    admin = await Admin.open(url);
    await t.publish(json('', q, { n: 1 }));
    expect(await admin.messageCount(q)).to.equal(1);
    expect(tap.lines.some((l) => l.msg === 'consumers resumed')).to.equal(false);
    await admin.remove([q]);
  });
});
