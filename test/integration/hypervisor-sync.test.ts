/**
 * Changes nobody asked for become events: a guest shut down behind the
 * worker's back (here by a second libvirt connection, as an operator's virsh
 * would) is reported as instance.state (cause hypervisor) and as Nova's
 * instance.power_off.start/end, like Nova's power-state sync.
 */
import { ackOnReceipt } from '../../src/transport/transport';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { IntentClient } from '../../src/client/intent-client';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { EventTail } from '../../src/cli/event-tail';
import { decodeOsloBody } from '../../src/oslo/envelope';
import type { Transport } from '../../src/transport/transport';
import type { Worker } from '../../src/worker/worker';
import { eventually } from '../support/eventually';
import { connectTransport, startWorker, uuid } from '../support/worker';

describe('hypervisor-side changes become events', function () {
  this.timeout(60_000);
  let worker: Worker;
  let host: string;
  let transport: Transport;
  let client: IntentClient;
  let tail: EventTail;
  let operator: Driver;
  const nova: Record<string, unknown>[] = [];

  before(async () => {
    ({ worker, config: { host } } = await startWorker({ watchStopDelayMs: 0 }));
    transport = await connectTransport('test-hypervisor-sync');
    client = new IntentClient(transport, { controlExchange: 'nova' });
    tail = await EventTail.open(transport, host, () => undefined);
    const q = `test.nova-notifications.${randomUUID()}`;
    await transport.declare({ exchanges: [], queues: [{ name: q, durable: false, autoDelete: true, exclusive: true, arguments: {} }], bindings: [{ queue: q, exchange: 'nova', routingKey: 'versioned_notifications.info' }] });
    await transport.consume([q], { prefetch: 100 }, ackOnReceipt((m) => {
      const n = decodeOsloBody(m.body, m.contentType, m.contentEncoding);
      if (n.publisher_id === `nova-compute:${host}`) nova.push(n);
    }));
    // A second, independent connection to the same in-process hypervisor: "virsh".
    operator = await openLibvirtDriver({ uri: 'test:///default', connections: 1 });
  });

  after(async () => {
    await operator?.close();
    await tail?.close();
    await transport?.close();
    await worker?.stop(5_000);
  });

  it('reports a guest shut down behind its back, as Nova would', async () => {
    const id = uuid();
    await client.call(host, 'instance.spawn', { instance_uuid: id, name: `hv-${id.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } });
    await operator.powerOff(id, { clean: false, timeoutS: 0 });
    const ev = await tail.waitFor((e) => e.event === 'instance.state' && e.instance_uuid === id && e.cause === 'hypervisor', 20_000);
    expect(ev, 'instance.state with cause hypervisor').to.not.equal(undefined);
    expect(ev).to.deep.include({ power_state: 'shutdown', vm_state: 'stopped' });
    const types = () => nova.filter((n) => JSON.stringify(n.payload).includes(id)).map((n) => n.event_type);
    await eventually('instance.power_off.end', types, (t) => t.includes('instance.power_off.end'));
    expect(types()).to.include.members(['instance.power_off.start', 'instance.power_off.end']);
    const state = await client.call(host, 'instance.get_state', { instance_uuid: id });
    expect(state).to.deep.include({ power_state: 'shutdown', vm_state: 'stopped' });
    await client.call(host, 'instance.destroy', { instance_uuid: id });
  });
});
