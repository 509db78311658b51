/**
 * One worker per host, the worker's side (worker/host-claim.ts): a second
 * worker refuses with QUEUE_TAKEN naming the host and what to do, or as a
 * standby waits for the host's queue and says so once. The broker's side
 * is in the transport conformance suite and one-worker-per-host.test.ts.
 */
import { expect } from 'chai';
import { QueueTakenError, TransportError } from '../../src/errors';
import type { QueueState, Transport } from '../../src/transport/transport';
import { awaitHostFree, consumeAsOwner, type HostClaim } from '../../src/worker/host-claim';

/** The lines the claim logs, synchronously (it only uses info and warn). */
function logLines(): { log: HostClaim['log']; lines: string[] } {
  const lines: string[] = [];
  const line = (message: string): void => {
    lines.push(message);
  };
  return { log: { info: line, warn: line } as unknown as HostClaim['log'], lines };
}

function claim(states: (QueueState | undefined)[], o: Partial<HostClaim> = {}): HostClaim & { lines: string[] } {
  const { log, lines } = logLines();
  const transport = { inspectQueue: async () => states.shift() } as unknown as Transport;
  return { transport, host: 'h1', queue: 'compute.h1', standby: false, retryMs: 1, log, stopping: () => false, lines, ...o };
}

describe('one worker per host: the worker side', () => {
  it('starts when nobody consumes the host queue (or it does not exist yet)', async () => {
    expect(await awaitHostFree(claim([{ messages: 3, consumers: 0 }]))).to.equal(true);
    expect(await awaitHostFree(claim([undefined]))).to.equal(true);
  });

  it('refuses to start when the queue has a consumer, naming the host, the queue and --standby', async () => {
    const err = await awaitHostFree(claim([{ messages: 0, consumers: 1 }])).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(QueueTakenError);
    expect((err as QueueTakenError).code).to.equal('QUEUE_TAKEN');
    expect((err as Error).message).to.contain('another worker serves host "h1"').and.contain('compute.h1 has 1 consumer(s)').and.contain('--standby true');
  });

  it('as a standby waits until the queue is free, saying so once, then that it takes over', async () => {
    const c = claim([{ messages: 0, consumers: 1 }, { messages: 0, consumers: 1 }, { messages: 0, consumers: 0 }], { standby: true });
    expect(await awaitHostFree(c)).to.equal(true);
    expect(c.lines.filter((l) => l.includes('standby: another worker serves this host'))).to.have.length(1);
    expect(c.lines.filter((l) => l.includes('standby: taking over'))).to.have.length(1);
  });

  it('a standby being stopped gives up waiting', async () => {
    const c = claim([{ messages: 0, consumers: 1 }, { messages: 0, consumers: 1 }], { standby: true, stopping: () => true });
    expect(await awaitHostFree(c)).to.equal(false);
  });

  it('the exclusive consume decides: refused without --standby, retried as a standby; other errors pass through', async () => {
    const taken = () => Promise.reject(new QueueTakenError('compute.h1 already has a consumer', { queue: 'compute.h1' }));
    const err = await consumeAsOwner(claim([]), taken).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(QueueTakenError);
    expect((err as Error).message).to.contain('refuses to start');
    let tries = 0;
    const thirdTime = () => (++tries < 3 ? taken() : Promise.resolve());
    const c = claim([], { standby: true });
    expect(await consumeAsOwner(c, thirdTime)).to.equal(true);
    expect(tries).to.equal(3);
    expect(c.lines.filter((l) => l.includes('standby: another worker took this host first'))).to.have.length(1);
    const broken = await consumeAsOwner(claim([], { standby: true }), () => Promise.reject(new TransportError('no queue'))).then(() => undefined, (e: unknown) => e);
    expect(broken).to.be.instanceOf(TransportError);
  });
});
