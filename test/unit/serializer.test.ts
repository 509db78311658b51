import { expect } from 'chai';
import fc from 'fast-check';
import { Serializer, type JobSpec } from '../../src/serializer/serializer';

/** A job whose completion the test controls, so interleavings are deterministic. */
interface Controlled {
  spec: JobSpec;
  finish: () => void;
  started: boolean;
}

function harness(concurrency: number) {
  const log: { ev: 'start' | 'end'; id: string }[] = [];
  const live = new Map<string, Controlled>();
  const s = new Serializer({ concurrency, onStart: (spec) => log.push({ ev: 'start', id: spec.id }) });
  const submit = (spec: JobSpec) => {
    const c: Controlled = { spec, finish: () => {}, started: false };
    live.set(spec.id, c);
    const done = s.run(spec, () => {
      c.started = true;
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
    });
    await fc.assert(
      fc.asyncProperty(fc.array(jobArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 4 }), fc.infiniteStream(fc.nat()), async (specs, cap, picks) => {
        const { log, live, submit, s } = harness(cap);
        const all = specs.map((spec, i) => submit({ id: String(i), keys: spec.keys, capped: spec.capped }));
        await flush();
        const it = picks[Symbol.iterator]();
        // Finish a randomly chosen running job until none is left.
        for (let guard = 0; guard < 1000; guard++) {
          const running = [...live.values()].filter((c) => c.started);
          if (running.length === 0) break;
          const pick = running[(it.next().value ?? 0) % running.length];
          if (!pick) break;
          live.delete(pick.spec.id);
          pick.finish();
          await flush();
          const cappedNow = [...live.values()].filter((c) => c.started && c.spec.capped).length;
          if (cappedNow > cap) throw new Error(`cap exceeded: ${cappedNow} > ${cap}`);
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
