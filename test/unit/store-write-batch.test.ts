import { expect } from 'chai';
import { WriteBatch, type WriteBatchOptions } from '../../src/store/write-batch';

/** A batch whose commits are recorded: each is the list of what its ops ran. */
function recorded(opts?: WriteBatchOptions) {
  const ran: string[] = [];
  const committed: string[][] = [];
  const batch = new WriteBatch((ops) => {
    for (const op of ops) op();
    committed.push(ran.splice(0));
  }, opts);
  const op = (name: string) => () => {
    ran.push(name);
  };
  return { batch, committed, op };
}

describe('store: group commit (WriteBatch)', () => {
  it('resolves each write only once the commit that holds it has run', async () => {
    const { batch, committed, op } = recorded();
    const seen: number[] = [];
    const writes = ['a', 'b', 'c'].map((n) => batch.write(op(n)).then(() => seen.push(committed.length)));
    expect(committed).to.deep.equal([]);
    await Promise.all(writes);
    expect(committed).to.deep.equal([['a', 'b', 'c']]);
    expect(seen).to.deep.equal([1, 1, 1]);
  });

  it('waits out its window for more writes, and commits at once when it holds maxOps', async () => {
    const { batch, committed, op } = recorded({ windowMs: 20, maxOps: 3, lazyMs: 1000 });
    const first = batch.write(op('a'));
    await new Promise((r) => setImmediate(r));
    expect(committed, 'still inside the window').to.deep.equal([]);
    const rest = [batch.write(op('b')), batch.write(op('c'))];
    await Promise.all([first, ...rest]);
    expect(committed).to.deep.equal([['a', 'b', 'c']]);
    await batch.write(op('d'));
    expect(committed).to.deep.equal([['a', 'b', 'c'], ['d']]);
  });

  it('lets a write nobody waits for ride along with the next commit, or commits it on its own', async () => {
    const { batch, committed, op } = recorded({ windowMs: 0, maxOps: 1000, lazyMs: 10 });
    const lazy = batch.later(op('mark'));
    await batch.write(op('begin'));
    await lazy;
    expect(committed).to.deep.equal([['mark', 'begin']]);
    await batch.later(op('alone'));
    expect(committed).to.deep.equal([['mark', 'begin'], ['alone']]);
  });

  it('rejects every write of a failed commit, and commits the next batch', async () => {
    let fail = true;
    const batch = new WriteBatch(() => {
      if (fail) throw new Error('disk full');
    });
    const results = await Promise.allSettled([batch.write(() => undefined), batch.later(() => undefined)]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    fail = false;
    await batch.write(() => undefined);
  });

  it('commits what is queued when closed, then refuses writes', async () => {
    const { batch, committed, op } = recorded({ windowMs: 10_000, maxOps: 1000, lazyMs: 10_000 });
    const queued = [batch.write(op('w')), batch.later(op('l'))];
    batch.close();
    await Promise.all(queued);
    expect(committed).to.deep.equal([['w', 'l']]);
    let refused: unknown;
    await batch.write(() => undefined).catch((e: unknown) => (refused = e));
    expect(String(refused)).to.match(/closed/);
  });
});
