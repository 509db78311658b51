/**
 * `hostwall replay` reads a bounded source (issue 13 item 1): what the
 * dead-letter queue or the journal held when the command started, never
 * what the run itself put there. Against the real broker and real workers.
 */
import { expect } from 'chai';
import { runCli, startWorkerProcess, stateDir, processSuite } from '../support/worker-process';
import { depthReaches, queueDepth, withChannel } from '../support/broker';
import { bigMetadata, uniqueHost, uuid } from '../support/worker';

const FLAVOR = { vcpus: 1, memory_mb: 64, root_gb: 0 };

describe('hostwall replay reads a bounded source (real broker)', function () {
  this.timeout(120_000);
  const suite = processSuite('test-replay-bounds');
  const workers = suite.workers;

  it('--dead-letters re-sends what the queue held at the start once; a message refused again stays for the next run', async () => {
    const host = uniqueHost('dlq-loop');
    // This worker refuses bodies over 2 KiB, and keeps refusing them: every re-send comes back.
    const strict = await startWorkerProcess(host, { ...stateDir(), HOSTWALL_MAX_MESSAGE_BYTES: '2048' });
    workers.push(strict);
    const dlq = `hostwall.dead.${host}`;
    for (const n of [1, 2]) await suite.client.cast(host, 'instance.spawn', { instance_uuid: uuid(), name: `loop-${n}`, flavor: FLAVOR, metadata: bigMetadata() });
    expect(await depthReaches(dlq, 2)).to.equal(2);

    // Before the fix this never ended: each refused re-send was read again (thousands of re-sends).
    const r = await runCli(['replay', '--dead-letters', '--host', host], {}, 30_000);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('2 selected of 2 read').and.contain('2 sent');
    expect(r.stdout.trim().split('\n'), r.stdout).to.have.length(2);
    // Both came back refused again, and wait there for the next run, marked as replays.
    expect(await depthReaches(dlq, 2)).to.equal(2);
    const again = await withChannel(async (ch) => {
      const m = await ch.get(dlq, { noAck: false });
      ch.nackAll(true);
      return m;
    });
    expect(again ? again.properties.headers?.['x-hostwall-replay-of'] : undefined).to.match(/^dead-letter:/);

    const next = await runCli(['replay', '--dead-letters', '--host', host, '--dry-run'], {}, 30_000);
    expect(next.code, next.stderr).to.equal(0);
    expect(next.stderr).to.contain('2 selected of 2 read');
    expect(await strict.stop()).to.equal(0);
  });

  it('the journal is read up to its tail as it was at the start: replays this run appends are not read again (--include-replays)', async () => {
    const host = uniqueHost('journal-loop');
    const w = await startWorkerProcess(host, stateDir());
    workers.push(w);
    const from = new Date(Date.now() - 1000).toISOString();
    for (const n of [1, 2]) await suite.client.call(host, 'instance.spawn', { instance_uuid: uuid(), name: `tail-${n}`, flavor: FLAVOR });
    // Before the fix each re-send was journaled, read, and re-sent again, without end.
    const r = await runCli(['replay', '--host', host, '--from', from, '--include-replays'], {}, 30_000);
    expect(r.code, r.stderr).to.equal(0);
    const sent = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; kind: string });
    expect(sent.map((l) => [l.kind, l.status])).to.deep.equal([['instance.spawn', 'sent'], ['instance.spawn', 'sent']]);
    // A second run reads its predecessor's two replays as well: four, and still stops.
    const again = await runCli(['replay', '--host', host, '--from', from, '--include-replays', '--dry-run'], {}, 30_000);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout.trim().split('\n')).to.have.length(4);
    expect(await w.stop()).to.equal(0);
  });

  it('more than --confirm-above messages: nothing is sent without a terminal to ask on, unless --yes', async () => {
    const host = uniqueHost('confirm');
    const w = await startWorkerProcess(host, stateDir());
    workers.push(w);
    const from = new Date(Date.now() - 1000).toISOString();
    for (const n of [1, 2, 3]) await suite.client.call(host, 'instance.spawn', { instance_uuid: uuid(), name: `many-${n}`, flavor: FLAVOR });
    expect(await w.stop()).to.equal(0);
    // The worker is gone, its queue stays: what is sent waits there, countable.
    const queue = `compute.${host}`;
    const refused = await runCli(['replay', '--host', host, '--from', from, '--confirm-above', '2'], {}, 30_000);
    expect(refused.code, refused.stderr).to.equal(2);
    expect(refused.stderr).to.contain('3 messages to 1 host(s)').and.contain('--yes');
    expect(await queueDepth(queue)).to.equal(0);
    const under = await runCli(['replay', '--host', host, '--from', from, '--confirm-above', '3'], {}, 30_000);
    expect(under.code, under.stderr).to.equal(0);
    expect(await depthReaches(queue, 3)).to.equal(3);
    const yes = await runCli(['replay', '--host', host, '--from', from, '--confirm-above', '2', '--yes'], {}, 30_000);
    expect(yes.code, yes.stderr).to.equal(0);
    expect(yes.stderr).to.contain('3 sent');
    expect(await depthReaches(queue, 6)).to.equal(6);
  });
});
