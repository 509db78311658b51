/** `hostwall demo` leaves nothing behind on the broker: the queues of its made-up host are deleted. */
import { expect } from 'chai';
import type { Transport } from '../../src/transport/transport';
import { connectTransport } from '../support/worker';
import { runCli } from '../support/worker-process';

describe('hostwall demo', function () {
  this.timeout(180_000);
  let transport: Transport | undefined;

  after(async () => {
    await transport?.close();
  });

  it('runs the story, then deletes its host\'s server, dead-letter and fanout queues (the shared ones stay)', async () => {
    const r = await runCli(['demo']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    const host = /a worker for host (demo-[0-9a-f]+)/.exec(r.stdout)?.[1];
    expect(host, r.stdout).to.be.a('string');
    const deleted = /== deleted the demo's queues: (.+)\n/.exec(r.stdout)?.[1]?.split(', ') ?? [];
    expect(deleted.slice(0, 2)).to.deep.equal([`compute.${host}`, `hostwall.dead.${host}`]);
    expect(deleted[2]).to.match(/^compute_fanout_[0-9a-f]{32}$/);
    transport = await connectTransport('hw-demo-test');
    const inspect = transport.inspectQueue?.bind(transport);
    if (!inspect) throw new Error('this transport cannot look at queues');
    for (const q of deleted) expect(await inspect(q), q).to.equal(undefined);
    expect(await inspect('compute'), 'the shared topic queue').to.not.equal(undefined);
  });
});
