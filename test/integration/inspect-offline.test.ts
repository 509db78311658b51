/**
 * `hostwall inspect` when the worker is down (issue 13 item 6): dead letters
 * come from RabbitMQ directly, the intents from the worker's store file
 * (`--store`, read-only), and beside a running worker the store is left to
 * it. Real broker, real worker processes.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startWorkerProcess, type WorkerProcess, processSuite } from '../support/worker-process';
import { depthReaches, queueDepth } from '../support/broker';
import { bigMetadata, uniqueHost, uuid } from '../support/worker';

const FLAVOR = { vcpus: 1, memory_mb: 64, root_gb: 0 };

type Line = Record<string, unknown>;
const lines = (stdout: string): Line[] => stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);

describe('hostwall inspect with the worker down (real broker)', function () {
  this.timeout(120_000);
  const suite = processSuite('test-inspect-offline');
  const workers = suite.workers;

  /** A worker that ran one spawn, one failed pause and one dead letter, and its state path. */
  async function hostWithHistory(prefix: string): Promise<{ host: string; state: string; w: WorkerProcess; id: string; missing: string }> {
    const host = uniqueHost(prefix);
    const state = mkdtempSync(join(tmpdir(), 'hw-state-'));
    const w = await startWorkerProcess(host, { HOSTWALL_STATE_PATH: state, HOSTWALL_INSTANCES_PATH: join(tmpdir(), 'hw-inst'), HOSTWALL_MAX_MESSAGE_BYTES: '2048' });
    workers.push(w);
    const id = uuid();
    const missing = uuid();
    await suite.client.call(host, 'instance.spawn', { instance_uuid: id, name: 'off-1', flavor: FLAVOR });
    await suite.client.call(host, 'instance.pause', { instance_uuid: missing }).catch(() => undefined);
    await suite.client.cast(host, 'instance.spawn', { instance_uuid: uuid(), name: 'too-big', flavor: FLAVOR, metadata: bigMetadata() });
    await depthReaches(`hostwall.dead.${host}`, 1);
    return { host, state, w, id, missing };
  }

  const expectHistory = (out: Line[], id: string, missing: string): void => {
    const intents = out.filter((l) => l.type === 'intent');
    expect(intents.find((l) => l.kind === 'instance.spawn' && l.instance_uuid === id)).to.deep.include({ state: 'succeeded', error: null });
    expect(intents.find((l) => l.kind === 'instance.pause')).to.deep.include({ state: 'failed', instance_uuid: missing });
  };

  it('lists the dead letters from the broker at once, and says why the intents are missing', async () => {
    const { host, w } = await hostWithHistory('insp-down');
    expect(await w.stop()).to.equal(0);
    // Before the fix: a host.intents call nobody answers, 30 s, then an error and no dead letters at all.
    const r = await runCli(['inspect', '--host', host, '--since', '-10m', '--timeout', '5s'], {}, 20_000);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`no worker consumes compute.${host}`).and.contain('--store');
    const dead = lines(r.stdout).filter((l) => l.type === 'dead-letter');
    expect(dead).to.have.length(1);
    expect(String(dead[0]?.reason)).to.match(/^OVERSIZE/);
    expect(await queueDepth(`hostwall.dead.${host}`), 'left in place').to.equal(1);
  });

  it('--store reads a stopped worker\'s intent store offline (its state path or the file)', async () => {
    const { host, state, w, id, missing } = await hostWithHistory('insp-store');
    expect(await w.stop()).to.equal(0);
    for (const store of [state, join(state, `intents-${host}.sqlite`)]) {
      const r = await runCli(['inspect', '--host', host, '--since', '-10m', '--store', store], {}, 20_000);
      expect(r.code, r.stderr).to.equal(0);
      expectHistory(lines(r.stdout), id, missing);
      expect(lines(r.stdout).filter((l) => l.type === 'dead-letter')).to.have.length(1);
    }
  });

  it('--store reads the store of a worker killed with SIGKILL (its WAL included)', async () => {
    const { host, state, w, id, missing } = await hostWithHistory('insp-kill');
    const exited = new Promise((res) => w.child.once('exit', res));
    w.child.kill('SIGKILL');
    await exited;
    const r = await runCli(['inspect', '--host', host, '--since', '-10m', '--store', state, '--no-dead-letters'], {}, 20_000);
    expect(r.code, r.stderr).to.equal(0);
    expectHistory(lines(r.stdout), id, missing);
    // The next worker for the host opens the store as usual afterwards.
    const next = await startWorkerProcess(host, { HOSTWALL_STATE_PATH: state, HOSTWALL_INSTANCES_PATH: join(tmpdir(), 'hw-inst') });
    workers.push(next);
    expect(await next.stop()).to.equal(0);
  });

  it('--store beside a running worker leaves the store to it and asks the worker instead', async () => {
    const { host, state, w, id, missing } = await hostWithHistory('insp-live');
    const r = await runCli(['inspect', '--host', host, '--since', '-10m', '--store', state], {}, 20_000);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('held by its running worker').and.contain('asking the worker instead');
    expectHistory(lines(r.stdout), id, missing);
    // The worker still records intents: the reader took nothing from it.
    const after = uuid();
    await suite.client.call(host, 'instance.spawn', { instance_uuid: after, name: 'off-2', flavor: FLAVOR });
    const again = await runCli(['inspect', '--host', host, '--since', '-10m', '--no-dead-letters'], {}, 20_000);
    expect(lines(again.stdout).find((l) => l.instance_uuid === after)).to.deep.include({ state: 'succeeded' });
    expect(await w.stop()).to.equal(0);
  });
});
