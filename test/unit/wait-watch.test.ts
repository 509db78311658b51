import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WaitWatch } from '../../src/dispatch/wait-watch';
import { createLogger } from '../../src/log';

function capture(level = 'info') {
  const out = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  out.on('data', (b: Buffer) => {
    for (const l of b.toString().trim().split('\n')) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { log: createLogger({ level, format: 'json', stream: out }), lines };
}

describe('WaitWatch (lines while an intent waits)', () => {
  let now = 0;
  const clock = () => now;

  it('says when an intent starts waiting and again every interval, with the seconds waited, until it ends', async () => {
    const { log, lines } = capture();
    const watch = new WaitWatch(10_000, clock);
    now = 1_000;
    let behind = 'i0';
    const end = watch.begin(log, 'info', 'waiting for its turn', () => ({ behind }));
    now = 9_000;
    watch.tick();
    now = 11_000;
    behind = 'i1';
    watch.tick();
    now = 15_000;
    watch.tick();
    now = 21_500;
    watch.tick();
    end();
    now = 40_000;
    watch.tick();
    await nextTurn();
    expect(lines.map((l) => [l.message, l.behind, l.waited_s])).to.deep.equal([
      ['waiting for its turn', 'i0', undefined],
      ['still waiting for its turn', 'i1', 10],
      ['still waiting for its turn', 'i1', 21],
    ]);
    expect(watch.size).to.equal(0);
    watch.stop();
  });

  it('logs the first line at its level only (a lane wait at debug), the repeats at info', async () => {
    const { log, lines } = capture('info');
    const watch = new WaitWatch(1_000, clock);
    now = 0;
    watch.begin(log, 'debug', 'waiting for its turn', () => ({}));
    now = 1_000;
    watch.tick();
    await nextTurn();
    expect(lines.map((l) => l.message)).to.deep.equal(['still waiting for its turn']);
    watch.stop();
  });

  it('with an interval of 0 logs only the first line and keeps nothing', async () => {
    const { log, lines } = capture();
    const watch = new WaitWatch(0, clock);
    const end = watch.begin(log, 'info', 'waiting for port.ready of its ports', () => ({ ports: ['p1'] }));
    expect(watch.size).to.equal(0);
    end();
    await nextTurn();
    expect(lines).to.have.length(1);
  });

  it('runs a timer only while something waits, so an idle worker has none', () => {
    const watch = new WaitWatch(1_000, clock);
    const { log } = capture();
    const a = watch.begin(log, 'debug', 'x', () => ({}));
    const b = watch.begin(log, 'debug', 'y', () => ({}));
    const timer = (w: WaitWatch) => (w as unknown as { timer: NodeJS.Timeout | undefined }).timer;
    expect(timer(watch)).to.not.equal(undefined);
    a();
    expect(timer(watch)).to.not.equal(undefined);
    b();
    b();
    expect(timer(watch)).to.equal(undefined);
  });
});
