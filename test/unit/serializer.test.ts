import { expect } from 'chai';
import fc from 'fast-check';
import { Serializer, type JobSpec } from '../../src/serializer/serializer';

/** A job whose completion the test controls, so interleavings are deterministic. */
interface Controlled {
  spec: JobSpec;
  finish: () => void;
  started: boolean;
  /** Gives its slot back early (ReleaseSlot). */
  release: () => void;
  released: boolean;
}

function harness(concurrency: number, groups?: Record<string, number>) {
  const log: { ev: 'start' | 'end'; id: string }[] = [];
  const live = new Map<string, Controlled>();
  const s = new Serializer({ concurrency, groups, onStart: (spec) => log.push({ ev: 'start', id: spec.id }) });
  const submit = (spec: JobSpec) => {
    const c: Controlled = { spec, finish: () => {}, started: false, release: () => {}, released: false };
    live.set(spec.id, c);
    const done = s.run(spec, (release) => {
      c.started = true;
      c.release = () => {
        c.released = true;
        release();
      };
      return new Promise<void>((resolve) => {
        c.finish = () => {
          log.push({ ev: 'end', id: spec.id });
          resolve();
        };
      });
    });
    return { c, done };
  };
  return { s, log, live, submit };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('Serializer', () => {
  it('runs jobs sharing a key strictly in submission order, never overlapping', async () => {
    const { log, submit } = harness(10);
    const a = submit({ id: 'a', keys: ['instance:1'], capped: true });
    const b = submit({ id: 'b', keys: ['instance:1'], capped: true });
    await flush();
    expect(a.c.started).to.equal(true);
    expect(b.c.started).to.equal(false);
    a.c.finish();
    await a.done;
    await flush();
    expect(b.c.started).to.equal(true);
    b.c.finish();
    await b.done;
    expect(log.map((e) => `${e.ev}:${e.id}`)).to.deep.equal(['start:a', 'end:a', 'start:b', 'end:b']);
  });

  it('runs jobs with disjoint keys at the same time', async () => {
    const { submit } = harness(10);
    const a = submit({ id: 'a', keys: ['instance:1'], capped: true });
    const b = submit({ id: 'b', keys: ['instance:2'], capped: true });
    await flush();
    expect(a.c.started && b.c.started).to.equal(true);
    a.c.finish();
    b.c.finish();
    await Promise.all([a.done, b.done]);
  });

  it('never runs more capped jobs than the limit, oldest ready first', async () => {
    const { s, submit } = harness(2);
    const jobs = ['a', 'b', 'c', 'd'].map((id) => submit({ id, keys: [`instance:${id}`], capped: true }));
    await flush();
    expect(jobs.map((j) => j.c.started)).to.deep.equal([true, true, false, false]);
    expect(s.stats().cappedRunning).to.equal(2);
    jobs[1]?.c.finish();
    await flush();
    expect(jobs.map((j) => j.c.started)).to.deep.equal([true, true, true, false]);
  });

  it('gives a released slot to the next ready job while the releasing job keeps its lane', async () => {
    const s = new Serializer({ concurrency: 1 });
    const order: string[] = [];
    let finishA: () => void = () => undefined;
    const a = s.run({ id: 'a', keys: ['instance:1'], capped: true }, (release) => {
      order.push('start:a');
      release();
      release(); // idempotent: one slot back, not two
      return new Promise<void>((r) => (finishA = r));
    });
    const sameLane = s.run({ id: 'a2', keys: ['instance:1'], capped: true }, async () => void order.push('start:a2'));
    const other = s.run({ id: 'b', keys: ['instance:2'], capped: true }, () => {
      order.push('start:b');
      return new Promise<void>(() => undefined);
    });
    const third = s.run({ id: 'c', keys: ['instance:3'], capped: true }, async () => void order.push('start:c'));
    await flush();
    expect(order, 'b got the slot a gave back; c waits for one; a2 waits for a').to.deep.equal(['start:a', 'start:b']);
    expect(s.stats().cappedRunning).to.equal(1);
    finishA();
    await a;
    await flush();
    expect(order).to.deep.equal(['start:a', 'start:b']);
    expect(s.stats().running, 'b runs; a2 and c wait for its slot').to.equal(1);
    void sameLane;
    void other;
    void third;
  });

  it('limits a group within the cap, and lets younger jobs of other groups pass a full one', async () => {
    const { s, submit } = harness(3, { build: 1 });
    const b1 = submit({ id: 'b1', keys: ['instance:1'], capped: true, group: 'build' });
    const b2 = submit({ id: 'b2', keys: ['instance:2'], capped: true, group: 'build' });
    const p1 = submit({ id: 'p1', keys: ['instance:3'], capped: true });
    const p2 = submit({ id: 'p2', keys: ['instance:4'], capped: true });
    await flush();
    expect([b1, b2, p1, p2].map((j) => j.c.started)).to.deep.equal([true, false, true, true]);
    p1.c.finish();
    await flush();
    expect(b2.c.started, 'a free slot, but the build group is full').to.equal(false);
    b1.c.release();
    await flush();
    expect(b2.c.started, 'the build gave its slot back').to.equal(true);
    expect(s.stats().cappedRunning).to.equal(2);
  });

  it('lets an uncapped signal pass while every slot is held by a job waiting for it', async () => {
    const { submit } = harness(1);
    const spawn = submit({ id: 'spawn', keys: ['instance:1'], capped: true });
    const ready = submit({ id: 'ready', keys: ['port:p1'], capped: false });
    await flush();
    expect(spawn.c.started && ready.c.started).to.equal(true);
    ready.c.finish();
    spawn.c.finish();
    await Promise.all([spawn.done, ready.done]);
  });

  it('propagates a job failure and keeps the lane moving', async () => {
    const s = new Serializer({ concurrency: 1 });
    const p1 = s.run({ id: '1', keys: ['k'], capped: true }, async () => {
      throw new Error('boom');
    });
    const p2 = s.run({ id: '2', keys: ['k'], capped: true }, async () => 'ok');
    const err = await p1.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error).with.property('message', 'boom');
    expect(await p2).to.equal('ok');
    await s.idle();
  });

  it('property: any mix of multi-key jobs completes, in order per key, within the cap', async () => {
    const keyPool = ['instance:a', 'instance:b', 'instance:c', 'volume:v', 'port:p'];
    const jobArb = fc.record({
      keys: fc.subarray(keyPool, { minLength: 0, maxLength: 3 }),
      capped: fc.boolean(),
      build: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(jobArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.infiniteStream(fc.nat()), async (specs, cap, builds, picks) => {
        const { log, live, submit, s } = harness(cap, { build: builds });
        const all = specs.map((spec, i) => submit({ id: String(i), keys: spec.keys, capped: spec.capped, group: spec.build && spec.capped ? 'build' : undefined }));
        await flush();
        const it = picks[Symbol.iterator]();
        // Finish (or first give back the slot of) a randomly chosen running job until none is left.
        for (let guard = 0; guard < 1000; guard++) {
          const running = [...live.values()].filter((c) => c.started);
          if (running.length === 0) break;
          const n = it.next().value ?? 0;
          const pick = running[n % running.length];
          if (!pick) break;
          if (!pick.released && n % 3 === 0) {
            pick.release();
          } else {
            live.delete(pick.spec.id);
            pick.finish();
          }
          await flush();
          const holding = [...live.values()].filter((c) => c.started && c.spec.capped && !c.released);
          if (holding.length > cap) throw new Error(`cap exceeded: ${holding.length} > ${cap}`);
          const building = holding.filter((c) => c.spec.group === 'build').length;
          if (building > builds) throw new Error(`build limit exceeded: ${building} > ${builds}`);
        }
        await Promise.all(all.map((j) => j.done));
        expect(live.size, 'every job ran (no deadlock)').to.equal(0);
        expect(s.stats()).to.deep.include({ running: 0, waiting: 0, lanes: 0 });
        // Per key: starts follow submission order and a job ends before the next starts.
        for (const key of keyPool) {
          const ids = new Set(specs.flatMap((sp, i) => (sp.keys.includes(key) ? [String(i)] : [])));
          const seq = log.filter((e) => ids.has(e.id));
          const starts = seq.filter((e) => e.ev === 'start').map((e) => Number(e.id));
          expect(starts, `order on ${key}`).to.deep.equal([...starts].sort((x, y) => x - y));
          for (let i = 0; i < seq.length; i += 2) {
            expect(seq[i]?.ev).to.equal('start');
            expect(seq[i + 1]).to.deep.equal({ ev: 'end', id: seq[i]?.id });
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
