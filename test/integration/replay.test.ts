/**
 * Operators replay messages (issue 6): a time window of the journal replayed
 * to a fresh worker reproduces the driver state; a dry run sends nothing;
 * dead letters re-sent after a fix succeed and leave the queue; the demo runs.
 */
import { expect } from 'chai';
import { runCli, startWorkerProcess, stateDir, processSuite } from '../support/worker-process';
import { depthReaches, queueDepth } from '../support/broker';
import { eventually } from '../support/eventually';
import { bigMetadata, uniqueHost, uuid } from '../support/worker';

const FLAVOR = { vcpus: 1, memory_mb: 64, root_gb: 0 };

describe('hostwall replay', function () {
  this.timeout(180_000);
  const suite = processSuite('test-replay');
  const workers = suite.workers;

  it('replays a time window of the journal to a fresh worker and reproduces the same driver state', async () => {
    const host = uniqueHost('replay');
    const from = new Date(Date.now() - 1000).toISOString();
    const first = await startWorkerProcess(host, stateDir());
    workers.push(first);
    const ids = [uuid(), uuid(), uuid()];
    for (const id of ids) await suite.client.call(host, 'instance.spawn', { instance_uuid: id, name: `r-${id.slice(0, 8)}`, flavor: FLAVOR });
    await suite.client.call(host, 'instance.pause', { instance_uuid: ids[0] });
    await suite.client.call(host, 'instance.power_off', { instance_uuid: ids[1], timeout_s: 1 });
    await suite.client.call(host, 'volume.attach', { instance_uuid: ids[2], volume_id: 'rv-1', connection_info: { driver_volume_type: 'file', data: { device_path: '/var/lib/hostwall/volumes/rv-1.img' } } });
    const stateOf = async () => Promise.all(ids.map((id) => suite.client.call(host, 'instance.get_state', { instance_uuid: id })));
    const before = await stateOf();
    expect(await first.stop()).to.equal(0);

    // A fresh worker: new hypervisor state (its own process), empty intent store.
    const fresh = await startWorkerProcess(host, stateDir());
    workers.push(fresh);
    const r = await runCli(['replay', '--host', host, '--kind', 'instance.spawn', '--from', from]);
    expect(r.code, r.stderr).to.equal(0);
    const rest = await runCli(['replay', '--host', host, '--kind', '**', '--from', from]);
    expect(rest.code, rest.stderr).to.equal(0);
    const lines = rest.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; kind: string });
    expect(lines.filter((l) => l.status === 'sent').map((l) => l.kind)).to.include.members(['instance.pause', 'instance.power_off', 'volume.attach']);
    // The replayed calls' reply queues are gone; the worker applies them all the same. Wait until it has.
    const after = await eventually('the replayed intents applied', stateOf, (s) => JSON.stringify(s) === JSON.stringify(before));
    expect(after).to.deep.equal(before);
    expect(await fresh.stop()).to.equal(0);
  });

  it('sends nothing on a dry run (checked on the broker)', async () => {
    const host = uniqueHost('dry');
    const from = new Date(Date.now() - 1000).toISOString();
    const w = await startWorkerProcess(host, stateDir());
    workers.push(w);
    await suite.client.call(host, 'instance.spawn', { instance_uuid: uuid(), name: 'dry-1', flavor: FLAVOR });
    expect(await w.stop()).to.equal(0);
    // The worker is gone; its queue stays (oslo's topic queues outlive their server). Anything sent would wait there.
    const queue = `compute.${host}`;
    const depth = await queueDepth(queue);
    const r = await runCli(['replay', '--host', host, '--from', from, '--dry-run']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; kind: string });
    expect(lines.map((l) => [l.kind, l.status])).to.deep.include(['instance.spawn', 'would-send']);
    expect(r.stderr).to.contain('dry run: nothing sent');
    expect(await queueDepth(queue)).to.equal(depth);
  });

  it('re-sends dead letters after a fix; each leaves the queue once its re-send is confirmed', async () => {
    const host = uniqueHost('dlq');
    // Before the fix: this worker refuses bodies over 2 KiB.
    const strict = await startWorkerProcess(host, { ...stateDir(), HOSTWALL_MAX_MESSAGE_BYTES: '2048' });
    workers.push(strict);
    const id = uuid();
    // Within Nova's metadata bounds (values of 255 at most), 4 KB in all.
    const metadata = bigMetadata();
    // Oversize bodies are refused unread, so a caller could get no answer: cast it.
    await suite.client.cast(host, 'instance.spawn', { instance_uuid: id, name: 'dlq-1', flavor: FLAVOR, metadata });
    const dlq = `hostwall.dead.${host}`;
    expect(await depthReaches(dlq, 1)).to.equal(1);
    const listed = await runCli(['replay', '--dead-letters', '--host', host, '--dry-run']);
    expect(listed.stdout).to.contain('OVERSIZE');
    expect(await queueDepth(dlq), 'a dry run puts everything back').to.equal(1);
    expect(await strict.stop()).to.equal(0);

    // The fix: a worker with the default limit.
    const fixed = await startWorkerProcess(host, stateDir());
    workers.push(fixed);
    const r = await runCli(['replay', '--dead-letters', '--host', host]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('1 sent');
    expect(await queueDepth(dlq)).to.equal(0);
    const state = await eventually('the re-sent spawn applied', () => suite.client.call(host, 'instance.get_state', { instance_uuid: id }));
    expect(state).to.deep.include({ power_state: 'running' });
    expect(await fixed.stop()).to.equal(0);
  });

  it('inspect shows the host\'s recent intents with outcome and error, and its dead letters with reasons', async () => {
    const host = uniqueHost('inspect');
    const w = await startWorkerProcess(host, { ...stateDir(), HOSTWALL_MAX_MESSAGE_BYTES: '2048' });
    workers.push(w);
    const id = uuid();
    await suite.client.call(host, 'instance.spawn', { instance_uuid: id, name: 'insp-1', flavor: FLAVOR });
    const missing = uuid();
    await suite.client.call(host, 'instance.pause', { instance_uuid: missing }).catch(() => undefined);
    await suite.client.cast(host, 'instance.spawn', { instance_uuid: uuid(), name: 'too-big', flavor: FLAVOR, metadata: bigMetadata() });
    await depthReaches(`hostwall.dead.${host}`, 1);
    const r = await runCli(['inspect', '--host', host, '--since', '-10m']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const intents = lines.filter((l) => l.type === 'intent');
    expect(intents.find((l) => l.kind === 'instance.spawn' && l.instance_uuid === id)).to.deep.include({ state: 'succeeded', error: null });
    const failed = intents.find((l) => l.kind === 'instance.pause');
    expect(failed).to.deep.include({ state: 'failed', instance_uuid: missing });
    expect(failed?.error).to.deep.include({ code: 'INSTANCE_NOT_FOUND' });
    expect(typeof failed?.duration_ms).to.equal('number');
    const dead = lines.filter((l) => l.type === 'dead-letter');
    expect(dead).to.have.length(1);
    expect(String(dead[0]?.reason)).to.match(/^OVERSIZE/);
    expect(await queueDepth(`hostwall.dead.${host}`), 'inspect leaves dead letters in place').to.equal(1);
    expect(await w.stop()).to.equal(0);
  });

  it('runs the demo to the end (exit 0)', async () => {
    const r = await runCli(['demo']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout).to.contain('the story ran as expected');
  });
});
