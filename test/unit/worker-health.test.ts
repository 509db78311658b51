/** The worker's metrics (prom-client registry) and readiness checks, without a broker. */
import { expect } from 'chai';
import { ServiceRecord } from '../../src/adapters/nova/compute-host/service-record';
import { ComputeHostSettings } from '../../src/adapters/nova/compute-host/settings';
import { ConductorClient } from '../../src/adapters/nova/conductor/conductor-client';
import type { Driver } from '../../src/drivers/driver';
import { createLogger } from '../../src/log';
import type { TransportHealth } from '../../src/transport/transport';
import type { CompanionStatus, WorkerCompanion } from '../../src/worker/companion';
import { type MetricSources, WorkerMetrics } from '../../src/worker/metrics';
import { ReadinessProbe, readinessLine } from '../../src/worker/readiness';
import { listenTarget } from '../../src/worker/status-server';
import { readyzUrl } from '../../src/cli/ready-probe';
import { VERSION } from '../../src/version';
import { capturedAnswer, conductorCalls, ScriptedRpc } from '../support/nova-upward';

const log = createLogger({ level: 'error', format: 'json' });

function sources(over: Partial<MetricSources> = {}): MetricSources {
  return {
    inFlight: () => 3,
    serializer: () => ({ running: 2, cappedRunning: 2, waiting: 7, lanes: 5 }),
    transport: () => ({ connected: true, consuming: true, reconnects: 2, broker: 'amqp://guest:***@h:5672/' }),
    events: () => ({ retries: 4, givenUp: 1 }),
    storeBytes: () => 4096,
    waiting: () => 1,
    ...over,
  };
}

/** `name{labels} value` lines of an exposition, as a map. */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

describe('worker metrics', () => {
  it('counts intents by kind and outcome, their durations, and dead letters by code', async () => {
    const m = new WorkerMetrics(sources());
    m.intentDone('instance.power_off', 'succeeded', 0.02);
    m.intentDone('instance.power_off', 'succeeded', 3);
    m.intentDone('instance.power_off', 'duplicate', 0.001);
    m.intentDone('instance.spawn', 'failed', 301);
    m.deadLettered('INVALID_INTENT');
    const s = samples(await m.exposition());
    expect(s.get('hostwall_intents_total{kind="instance.power_off",outcome="succeeded"}')).to.equal(2);
    expect(s.get('hostwall_intents_total{kind="instance.power_off",outcome="duplicate"}')).to.equal(1);
    expect(s.get('hostwall_intents_total{kind="instance.spawn",outcome="failed"}')).to.equal(1);
    expect(s.get('hostwall_intent_duration_seconds_count{kind="instance.power_off"}')).to.equal(3);
    expect(s.get('hostwall_intent_duration_seconds_bucket{le="0.025",kind="instance.power_off"}')).to.equal(2);
    expect(s.get('hostwall_intent_duration_seconds_bucket{le="300",kind="instance.spawn"}')).to.equal(0);
    expect(s.get('hostwall_intent_duration_seconds_bucket{le="600",kind="instance.spawn"}')).to.equal(1);
    expect(s.get('hostwall_dead_letters_total{code="INVALID_INTENT"}')).to.equal(1);
  });

  it('reads what the worker keeps when scraped: in flight, the serializer\'s queue, the broker, event retries, the store', async () => {
    let retries = 4;
    const m = new WorkerMetrics(sources({ events: () => ({ retries, givenUp: 1 }) }));
    const first = samples(await m.exposition());
    expect(first.get('hostwall_messages_in_flight')).to.equal(3);
    expect(first.get('hostwall_serializer_queue_depth')).to.equal(7);
    expect(first.get('hostwall_serializer_running')).to.equal(2);
    expect(first.get('hostwall_intents_waiting')).to.equal(1);
    expect(first.get('hostwall_broker_connected')).to.equal(1);
    expect(first.get('hostwall_broker_reconnects_total')).to.equal(2);
    expect(first.get('hostwall_event_publish_retries_total')).to.equal(4);
    expect(first.get('hostwall_event_publish_failures_total')).to.equal(1);
    expect(first.get('hostwall_intent_store_bytes')).to.equal(4096);
    // A total read again is the total, not added to the last scrape's.
    retries = 5;
    expect(samples(await m.exposition()).get('hostwall_event_publish_retries_total')).to.equal(5);
    expect(first.get(`hostwall_build_info{version="${VERSION}"}`)).to.equal(1);
  });

  it('adds Node\'s process metrics only when asked (the endpoint is served)', async () => {
    const m = new WorkerMetrics(sources());
    expect(await m.exposition()).to.not.contain('process_cpu_user_seconds_total');
    expect(await m.withProcessMetrics().exposition()).to.contain('process_cpu_user_seconds_total');
  });
});

describe('worker readiness', () => {
  const inventory = { vcpus: 1, memory_mb: 1, disk_gb: 1, instances: 2, hypervisor_type: 'TEST', hypervisor_version: 2 };
  const driver = (inv: () => Promise<typeof inventory>): Driver => ({ name: 'fake', inventory: inv }) as unknown as Driver;
  const up: TransportHealth = { connected: true, consuming: true, reconnects: 0, broker: 'amqp://h/' };

  it('is ready when running, connected, consuming and the driver answers', async () => {
    const r = await new ReadinessProbe({ state: () => 'running', transport: () => up, driver: driver(async () => inventory) }).check();
    expect(r.ready).to.equal(true);
    expect(r.checks.map((c) => c.name)).to.deep.equal(['worker', 'broker', 'consuming', 'driver']);
    expect(readinessLine(r)).to.equal('ready');
  });

  it('names every check that fails: a lost broker, consumers not attached, a driver that does not answer in time', async () => {
    const hung = driver(() => new Promise(() => undefined));
    const r = await new ReadinessProbe({ state: () => 'running', transport: () => ({ ...up, connected: false, consuming: false }), driver: hung, driverTimeoutMs: 20 }).check();
    expect(r.ready).to.equal(false);
    expect(readinessLine(r)).to.match(/^not ready: broker \(not connected .*\), consuming \(consumers not attached\), driver \(fake: no answer in 20 ms\)$/);
  });

  it('is not ready while starting or draining', async () => {
    for (const state of ['starting', 'draining', 'stopped']) {
      const r = await new ReadinessProbe({ state: () => state, transport: () => up, driver: driver(async () => inventory) }).check();
      expect(r.ready, state).to.equal(false);
    }
  });

  it('includes the companion\'s own status, asked through its status()', async () => {
    let status: CompanionStatus = { ready: false, detail: 'not registered with Nova yet' };
    const companion = { name: 'nova compute host', status: () => status } as unknown as WorkerCompanion;
    const probe = new ReadinessProbe({ state: () => 'running', transport: () => up, driver: driver(async () => inventory), companion });
    expect(readinessLine(await probe.check())).to.equal('not ready: nova compute host (not registered with Nova yet)');
    status = { ready: true, detail: 'registered' };
    expect((await probe.check()).ready).to.equal(true);
  });

  it('asks the driver at most once per cache period', async () => {
    let asked = 0;
    const counted = async () => {
      asked++;
      return inventory;
    };
    const probe = new ReadinessProbe({ state: () => 'running', transport: () => up, driver: driver(counted), cacheMs: 1000 });
    await probe.check(10_000);
    await probe.check(10_500);
    await probe.check(11_001);
    expect(asked).to.equal(2);
  });

  it('the Nova compute host\'s service record says when its heartbeat was last recorded', async () => {
    const settings = ComputeHostSettings.parse({ host: 'nova-cp-compute1', nodename: 'nova-cp-compute1', myIp: '127.0.0.1' });
    let refuse = false;
    const captured = conductorCalls();
    const rpc = new ScriptedRpc((label) => (refuse ? { error: new Error('conductor gone') } : capturedAnswer(captured, label)));
    const service = new ServiceRecord(new ConductorClient(rpc, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log), settings.host, log);
    expect(service.lastRecordedAt).to.equal(undefined);
    await service.register();
    const registered = service.lastRecordedAt;
    expect(registered).to.be.a('number');
    refuse = true;
    await service.beat();
    expect(service.lastRecordedAt).to.equal(registered);
  });
});

describe('worker HTTP address', () => {
  it('listens on 127.0.0.1 for a bare port, and asks a wildcard address on loopback', () => {
    expect(listenTarget('9464')).to.deep.equal({ host: '127.0.0.1', port: 9464 });
    expect(listenTarget('0.0.0.0:80')).to.deep.equal({ host: '0.0.0.0', port: 80 });
    expect(listenTarget('[::1]:9464')).to.deep.equal({ host: '::1', port: 9464 });
    expect(readyzUrl('9464')).to.equal('http://127.0.0.1:9464/readyz');
    expect(readyzUrl('0.0.0.0:9464')).to.equal('http://127.0.0.1:9464/readyz');
    expect(readyzUrl('[::]:9464')).to.equal('http://[::1]:9464/readyz');
  });
});
