/**
 * The serialized driver layer, end to end through the broker: intents for one
 * instance never overlap; intents for different instances do. The real libvirt
 * test driver is wrapped to record when each call runs (and to make each take
 * long enough that an overlap would show).
 */
import { expect } from 'chai';
import { IntentClient } from '../../src/client/intent-client';
import { loadConfig } from '../../src/config';
import type { Driver } from '../../src/drivers/driver';
import { openLibvirtDriver } from '../../src/drivers/libvirt/driver';
import { createLogger } from '../../src/log';
import type { Transport } from '../../src/transport/transport';
import { openTransport } from '../../src/worker/connect';
import { Worker } from '../../src/worker/worker';
import { AMQP_URL, connectTransport, uniqueHost, uuid } from '../support/worker';

interface Span {
  uuid: string;
  op: string;
  start: number;
  end: number;
}

/** Every driver method, delayed and timed; the real driver does the work. */
function recording(real: Driver, spans: Span[], delayMs: number): Driver {
  return new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || ['close', 'listGuests', 'inventory', 'getState', 'watch'].includes(String(prop))) return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        const first = args[0];
        const id = typeof first === 'string' ? first : (first as { instance_uuid: string }).instance_uuid;
        const span: Span = { uuid: id, op: String(prop), start: performance.now(), end: Number.NaN };
        await new Promise((r) => setTimeout(r, delayMs));
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          span.end = performance.now();
          spans.push(span);
        }
      };
    },
  });
}

describe('worker: the serialized driver layer through the broker', function () {
  this.timeout(60_000);
  let worker: Worker;
  let client: IntentClient;
  let clientTransport: Transport;
  let host: string;
  const spans: Span[] = [];

  before(async () => {
    host = uniqueHost('serial');
    const config = loadConfig({ env: {}, flags: { amqpUrl: AMQP_URL, host, logLevel: 'error', logFormat: 'json', instancesPath: '/tmp/hostwall-test-instances', statePath: '/tmp/hostwall-test-state' } });
    const driver = recording(await openLibvirtDriver({ uri: config.libvirtUri, connections: 4 }), spans, 40);
    const transport = openTransport(config, { connectionName: `test-serial-${host}` });
    worker = new Worker({ config, log: createLogger({ level: 'error', format: 'json' }), transport, driver });
    await worker.start();
    clientTransport = await connectTransport();
    client = new IntentClient(clientTransport, { controlExchange: 'nova' });
  });

  after(async () => {
    await clientTransport?.close();
    await worker?.stop(5_000);
  });

  it('never overlaps two intents for one instance, and overlaps intents for different instances', async () => {
    const a = uuid();
    const b = uuid();
    const flavor = { vcpus: 1, memory_mb: 64, root_gb: 0 };
    await Promise.all([a, b].map((id) => client.call(host, 'instance.spawn', { instance_uuid: id, name: `s-${id.slice(0, 8)}`, flavor })));
    spans.length = 0;
    const ops = ['instance.pause', 'instance.unpause', 'instance.power_off', 'instance.power_on', 'instance.reboot'];
    // Interleave casts for both instances, then one call per instance to wait for the end of each lane.
    for (const op of ops) for (const id of [a, b]) await client.cast(host, op, { instance_uuid: id });
    const final = await Promise.all([a, b].map((id) => client.call(host, 'instance.pause', { instance_uuid: id })));
    for (const r of final) expect(r).to.deep.nested.include({ 'instance.power_state': 'paused' });

    for (const id of [a, b]) {
      const mine = spans.filter((s) => s.uuid === id).sort((x, y) => x.start - y.start);
      expect(mine.map((s) => s.op), 'arrival order kept').to.deep.equal(['pause', 'unpause', 'powerOff', 'powerOn', 'reboot', 'pause']);
      for (let i = 1; i < mine.length; i++) {
        const prev = mine[i - 1];
        const cur = mine[i];
        if (prev && cur) expect(cur.start, `${cur.op} started before ${prev.op} ended`).to.be.at.least(prev.end);
      }
    }
    const overlaps = spans.filter((s) => s.uuid === a).some((x) => spans.some((y) => y.uuid === b && x.start < y.end && y.start < x.end));
    expect(overlaps, 'intents for different instances ran at the same time').to.equal(true);
    await Promise.all([a, b].map((id) => client.call(host, 'instance.destroy', { instance_uuid: id })));
  });
});
