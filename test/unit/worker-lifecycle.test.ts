/**
 * The worker's lifecycle with fake parts (worker/worker.ts): a start that
 * fails at any step stops what had started, last first, and leaves the
 * worker `failed` with the step named; a stop during a clean power-off that
 * would wait an hour cuts the wait short after the grace period, records no
 * outcome and leaves the message unacked, its 'started' record for the next
 * start to reconcile, as after a crash.
 */
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { IntentClient } from '../../src/client/intent-client';
import { loadConfig } from '../../src/config';
import type { Driver, GuestState, StopSignal } from '../../src/drivers/driver';
import type { Connection } from '../../src/drivers/libvirt/connection';
import { DomainState, type DomainPtr } from '../../src/drivers/libvirt/ffi';
import { powerOff } from '../../src/drivers/libvirt/power';
import { pause, unlessStopping } from '../../src/drivers/stop-signal';
import { ConfigError, StartFailure, StoppingError, TransportError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { IntentStore } from '../../src/store/intent-store';
import type { InboundMessage, OutboundMessage, Settlement, Transport } from '../../src/transport/transport';
import type { WorkerCompanion } from '../../src/worker/companion';
import { intentStorePath, type StartStep, Worker } from '../../src/worker/worker';

const UUID = '6f1c2a9e-8d4b-4c1e-9a7f-3b2d1e0c5a41';

type Fail = 'transport.start' | 'journal' | 'watch' | 'companion' | 'consume';

/** Fake parts that write what they start and stop into `trail`, and fail where told. */
function parts(dir: string, fail?: Fail) {
  const trail: string[] = [];
  const published: OutboundMessage[] = [];
  /** The handler's answers still pending: what the transport's drain waits for. */
  const handling = new Set<Promise<Settlement>>();
  const transport = {
    start: async () => {
      trail.push('transport start');
      if (fail === 'transport.start') throw new TransportError('nothing answers at amqp://x');
    },
    declare: async (t: { queues: { name: string }[] }) => {
      if (fail === 'journal' && t.queues.length === 0) throw new Error('NOT_FOUND - no queue hostwall.journal');
    },
    consume: async () => {
      trail.push('consume');
      if (fail === 'consume') throw new TransportError('the broker refused the consumer');
    },
    cancelConsumers: async () => undefined,
    inFlight: () => handling.size,
    drained: async () => {
      await Promise.allSettled([...handling]);
    },
    publish: async (m: OutboundMessage) => {
      published.push(m);
      return 'confirmed' as const;
    },
    close: async () => {
      trail.push('transport close');
    },
  } as unknown as Transport;
  /** Each powerOff call: resolved only when its signal aborts (a guest that ignores ACPI, and a timeout of an hour). */
  const powerOffs: { signal: AbortSignal | undefined }[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const driver = {
    name: 'fake',
    listGuests: async () => [],
    getState: async (uuid: string): Promise<GuestState> => ({ instance_uuid: uuid, name: 'instance-1', power_state: 'running' }),
    inventory: async () => ({ vcpus: 1, memory_mb: 1, disk_gb: 1, instances: 0, hypervisor_type: 'fake', hypervisor_version: 1 }),
    watch: () => {
      trail.push('watch start');
      return {
        ready: fail === 'watch' ? Promise.reject(new Error('libvirt: no connection')) : Promise.resolve([]),
        stop: async () => {
          trail.push('watch stop');
        },
      };
    },
    powerOff: (_uuid: string, opts: { clean: boolean; timeoutS: number } & StopSignal) => {
      powerOffs.push({ signal: opts.signal });
      const p = new Promise<never>((_, reject) => {
        opts.signal?.addEventListener('abort', () => reject(new StoppingError('waiting for the guest to shut down: cut short, the worker is stopping')));
      });
      inFlight.add(p);
      p.catch(() => inFlight.delete(p));
      return p;
    },
    // As the libvirt driver's: waits for the calls in flight.
    close: async () => {
      await Promise.allSettled([...inFlight]);
      trail.push('driver close');
    },
  } as unknown as Driver;
  const companion: WorkerCompanion = {
    name: 'companion',
    start: async () => {
      trail.push('companion start');
      if (fail === 'companion') throw new ConfigError('the Nova compute host needs a [placement] section');
    },
    stop: async () => {
      trail.push('companion stop');
    },
  };
  const config = loadConfig({ env: {}, flags: { host: 'lifecycle-unit', statePath: dir, journal: fail === 'journal', logLevel: 'error' } });
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const worker = new Worker({ config, log: createLogger({ level: 'error', format: 'json', stream }), transport, driver, companion });
  return { worker, trail, published, powerOffs, config, transport, lines, handling };
}

describe('worker lifecycle', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostwall-lifecycle-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cases: { fail: Fail; step: StartStep; before: string[]; undone: string[] }[] = [
    { fail: 'transport.start', step: 'broker', before: ['transport start'], undone: ['transport close', 'driver close'] },
    { fail: 'journal', step: 'journal', before: ['transport start'], undone: ['transport close', 'driver close'] },
    { fail: 'watch', step: 'hypervisor', before: ['transport start', 'watch start'], undone: ['watch stop', 'transport close', 'driver close'] },
    { fail: 'companion', step: 'companion', before: ['transport start', 'watch start', 'companion start'], undone: ['companion stop', 'watch stop', 'transport close', 'driver close'] },
    { fail: 'consume', step: 'consume', before: ['transport start', 'watch start', 'companion start', 'consume'], undone: ['companion stop', 'watch stop', 'transport close', 'driver close'] },
  ];
  for (const c of cases) {
    it(`a start failing at ${c.step} stops what had started, last first, and is failed with the step and its cause`, async () => {
      const { worker, trail, config, lines } = parts(dir, c.fail);
      const err = await worker.start().then(() => undefined, (e: unknown) => e);
      // What the step threw, unchanged: its type decides the exit code.
      expect(err).to.be.instanceOf(c.fail === 'companion' || c.fail === 'journal' ? ConfigError : c.fail === 'watch' ? Error : TransportError);
      expect(worker.state).to.equal('failed');
      expect(worker.failure).to.be.instanceOf(StartFailure);
      expect(worker.failure?.details.step).to.equal(c.step);
      expect(worker.failure?.cause).to.equal(err);
      expect(trail).to.deep.equal([...c.before, ...c.undone]);
      expect(lines.join('')).to.contain('worker failed to start; what had started was stopped').and.contain(`"step":"${c.step}"`);
      // The store was closed too: another run can open it (it holds a lock while open).
      IntentStore.open({ path: intentStorePath(config), runId: 'next', retentionMs: 60_000 }).close();
      expect(await worker.stop()).to.equal(true);
      expect(trail).to.deep.equal([...c.before, ...c.undone]);
    });
  }

  it('a stop during a clean power-off of up to an hour cuts the wait short after the grace period: no outcome, the message left unacked, the intent left to reconcile', async () => {
    const { worker, published, powerOffs, config, transport, handling } = parts(dir);
    await worker.start();
    expect(worker.state).to.equal('running');
    // The message as a Nova-like sender would publish it, taken from a client on the same fake transport.
    await new IntentClient(transport, { controlExchange: 'nova' }).cast(config.host, 'instance.power_off', { instance_uuid: UUID, clean: true, timeout_s: 3600 }, { context: { issuer: 'nova' } });
    const out = published.splice(0)[0];
    if (!out) throw new Error('nothing published');
    const msg: InboundMessage = {
      body: out.body, contentType: out.contentType, contentEncoding: out.contentEncoding, exchange: out.exchange, routingKey: out.routingKey,
      queue: `compute.${config.host}`, headers: out.headers ?? {}, userId: undefined, redelivered: false,
    };
    const answer = worker.dispatcher.onMessage(msg);
    handling.add(answer);
    while (powerOffs.length === 0) await new Promise((r) => setImmediate(r));
    // A force deadline of an hour: stop() returns only because the wait itself was cut short.
    const clean = await worker.stop(50, 3_600_000);
    expect(clean).to.equal(false);
    expect(powerOffs[0]?.signal?.aborted).to.equal(true);
    expect(worker.state).to.equal('stopped');
    expect(await answer, 'left unacked').to.equal('leave');
    const kinds = published.map((m) => JSON.parse(JSON.parse(m.body.toString())['oslo.message'] ?? 'null')?.event_type ?? m.routingKey);
    expect(kinds.join(' ')).to.not.match(/succeeded|failed|power_off\.end|power_off\.error/);
    // The next run finds it interrupted (as after a crash) and reconciles it against the guest.
    const next = IntentStore.open({ path: intentStorePath(config), runId: 'next', retentionMs: 60_000 });
    try {
      expect(next.interrupted().map((r) => [r.kind, r.state, r.instance_uuid])).to.deep.equal([['instance.power_off', 'started', UUID]]);
    } finally {
      next.close();
    }
  });

  it('the libvirt clean power-off wait ends when the worker stops, without forcing the guest off', async () => {
    const calls: string[] = [];
    let polls = 0;
    // A guest that ignores ACPI: running at every poll.
    const c = {
      domainState: async () => {
        polls++;
        return DomainState.RUNNING;
      },
      domainInt: async (name: string) => {
        calls.push(name);
        return 0;
      },
    } as unknown as Connection;
    const force = new AbortController();
    const off = powerOff(c, 1n as unknown as DomainPtr, { clean: true, timeoutS: 3600, signal: force.signal }).then(() => undefined, (e: unknown) => e);
    while (polls < 3) await new Promise((r) => setImmediate(r));
    force.abort();
    const err = await off;
    expect(err).to.be.instanceOf(StoppingError);
    expect((err as StoppingError).code).to.equal('STOPPING');
    expect(calls).to.deep.equal(['domainShutdown']);
  });

  it('a wait raced against the stop signal lets go of the signal when it ends, and ends at once when it aborts', async () => {
    const force = new AbortController();
    // The worker's signal lives as long as the worker: a finished wait must not leave a listener on it.
    for (let i = 0; i < 20; i++) expect(await unlessStopping(Promise.resolve(i), force.signal, 'a wait')).to.equal(i);
    await pause(1, force.signal, 'a pause');
    expect(getEventListeners(force.signal, 'abort')).to.have.length(0);
    const never = new Promise<never>(() => undefined);
    const cut = unlessStopping(never, force.signal, 'waiting for port.ready').then(() => undefined, (e: unknown) => e);
    const paused = pause(3_600_000, force.signal, 'a pause of an hour').then(() => undefined, (e: unknown) => e);
    force.abort();
    expect(await cut).to.be.instanceOf(StoppingError);
    expect(await paused).to.be.instanceOf(StoppingError);
    expect(getEventListeners(force.signal, 'abort')).to.have.length(0);
  });
});
