/**
 * The worker's HTTP endpoint as an operator (and Prometheus, and Docker's
 * HEALTHCHECK) uses it: a real worker process (`hostwall worker
 * --http-address 127.0.0.1:0`) on a vhost of the test's own, scraped over
 * HTTP; the broker taken away from it and given back; `hostwall status`
 * and the health-check probe against it.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IntentClient } from '../../src/client/intent-client';
import { loadConfig } from '../../src/config';
import type { Transport } from '../../src/transport/transport';
import { openTransport } from '../../src/worker/connect';
import { createVhost, type TestVhost } from '../support/broker-vhost';
import { eventually } from '../support/eventually';
import { ROOT, runCli, startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import { uniqueHost, uuid } from '../support/worker';

const run = promisify(execFile);

async function http(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}

function sample(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('worker HTTP endpoint: /healthz, /readyz, /metrics of a real worker', function () {
  this.timeout(120_000);
  let vhost: TestVhost;
  let worker: WorkerProcess | undefined;
  let base = '';
  let address = '';
  const host = uniqueHost('ops');

  before(async () => {
    vhost = await createVhost('hw-ops');
    const state = mkdtempSync(join(tmpdir(), 'hw-ops-'));
    worker = await startWorkerProcess(host, { AMQP_URL: vhost.url, HOSTWALL_STATE_PATH: state, HOSTWALL_INSTANCES_PATH: join(state, 'instances') }, ['--http-address', '127.0.0.1:0']);
    const line = worker.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'http endpoint listening: /healthz /readyz /metrics');
    address = String(line?.address ?? '');
    expect(address).to.match(/^127\.0\.0\.1:\d+$/);
    base = `http://${address}`;
  });

  after(async () => {
    await worker?.stop();
    await vhost?.remove();
  });

  async function client<T>(fn: (c: IntentClient, t: Transport) => Promise<T>): Promise<T> {
    const t = openTransport(loadConfig({ env: {}, flags: { amqpUrl: vhost.url } }), { connectionName: 'hw-ops-test-client' });
    await t.start();
    try {
      return await fn(new IntentClient(t, { controlExchange: 'nova' }), t);
    } finally {
      await t.close();
    }
  }

  it('answers /healthz, and /readyz with each check named', async () => {
    const live = await http(`${base}/healthz`);
    expect(live.status).to.equal(200);
    expect(JSON.parse(live.body)).to.deep.equal({ status: 'ok', state: 'running' });
    const ready = await http(`${base}/readyz`);
    expect(ready.status).to.equal(200);
    const body = JSON.parse(ready.body) as { ready: boolean; checks: { name: string; ok: boolean }[] };
    expect(body.ready).to.equal(true);
    expect(body.checks.map((c) => [c.name, c.ok])).to.deep.equal([['worker', true], ['broker', true], ['consuming', true], ['driver', true]]);
    expect((await http(`${base}/nope`)).status).to.equal(404);
  });

  it('counts intents by kind and outcome, their durations and dead letters at /metrics', async () => {
    await client(async (c, t) => {
      await c.call(host, 'host.inventory', {}, { context: { issuer: 'operator' } });
      await c.call(host, 'instance.get_state', { instance_uuid: uuid() }, { context: { issuer: 'operator' } }).catch(() => undefined);
      // Not JSON: dead-lettered as NOT_JSON.
      await t.publish({ exchange: 'nova', routingKey: `compute.${host}`, body: Buffer.from('not json'), contentType: 'application/json' });
    });
    // The worker and the broker act on their own schedule: /metrics is asked again until it counts the dead letter.
    const metrics = await eventually('the dead letter counted', async () => (await http(`${base}/metrics`)).body,
      (m) => sample(m, 'hostwall_dead_letters_total{code="NOT_JSON"}') === 1, { timeoutMs: 30_000, intervalMs: 200 });
    const r = await http(`${base}/metrics`);
    expect(r.type).to.match(/^text\/plain; version=0\.0\.4/);
    expect(sample(metrics, 'hostwall_intents_total{kind="host.inventory",outcome="succeeded"}')).to.equal(1);
    expect(sample(metrics, 'hostwall_intents_total{kind="instance.get_state",outcome="failed"}')).to.equal(1);
    expect(sample(metrics, 'hostwall_intent_duration_seconds_count{kind="host.inventory"}')).to.equal(1);
    expect(sample(metrics, 'hostwall_messages_in_flight')).to.equal(0);
    expect(sample(metrics, 'hostwall_serializer_queue_depth')).to.equal(0);
    expect(sample(metrics, 'hostwall_broker_connected')).to.equal(1);
    expect(sample(metrics, 'hostwall_broker_reconnects_total')).to.equal(0);
    expect(sample(metrics, 'hostwall_intent_store_bytes')).to.be.greaterThan(0);
    expect(metrics).to.contain('process_resident_memory_bytes');
  });

  it('is not ready while the broker refuses it, ready again once it reconnected, and counts the reconnect', async () => {
    await vhost.allowGuest(false);
    await vhost.closeConnections();
    const refused = await eventually('/readyz to say 503', () => http(`${base}/readyz`), (r) => r.status === 503, { timeoutMs: 30_000, intervalMs: 200 });
    const checks = (JSON.parse(refused.body) as { checks: { name: string; ok: boolean }[] }).checks;
    expect(checks.find((c) => c.name === 'broker')?.ok).to.equal(false);
    // Alive all the while: a restart would not help.
    expect((await http(`${base}/healthz`)).status).to.equal(200);
    await vhost.allowGuest(true);
    await eventually('/readyz to say 200 again', () => http(`${base}/readyz`), (r) => r.status === 200, { timeoutMs: 60_000, intervalMs: 200 });
    expect(sample((await http(`${base}/metrics`)).body, 'hostwall_broker_reconnects_total')).to.be.greaterThan(0);
  });

  it('answers the health-check probe of the Docker image (exit 0 ready, 1 not)', async () => {
    const ok = await run(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'ready-probe.js'), address]);
    expect(ok.stdout).to.match(/^200 \{"ready":true/);
    const down = await run(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'ready-probe.js'), '127.0.0.1:1']).then(() => 0, (err: { code: number }) => err.code);
    expect(down).to.equal(1);
  });

  it('`hostwall status` says up (exit 0) for it, down (exit 1) for a host nobody serves', async () => {
    const up = await runCli(['status', '--host', host], { AMQP_URL: vhost.url });
    expect(up.code).to.equal(0);
    expect(up.stdout).to.match(new RegExp(`^${host}: up: answered host.inventory in \\d+ ms \\(TEST \\d+, \\d+ guest\\(s\\).*compute\\.${host}: 1 consumer\\(s\\), 0 waiting, 1 dead letter\\(s\\) in hostwall\\.dead\\.${host}\\n$`));
    const none = await runCli(['status', '--host', `${host}-none`, '--json'], { AMQP_URL: vhost.url });
    expect(none.code).to.equal(1);
    expect(JSON.parse(none.stdout)).to.deep.include({ host: `${host}-none`, state: 'down', queue: null });
  });

  it('`hostwall status` says down, with what waits, once the worker stopped', async () => {
    expect(await worker?.stop()).to.equal(0);
    const down = await runCli(['status', '--host', host], { AMQP_URL: vhost.url });
    expect(down.code).to.equal(1);
    expect(down.stdout).to.equal(`${host}: down: nobody consumes compute.${host} (0 message(s) waiting), 1 dead letter(s) in hostwall.dead.${host}\n`);
  });
});
