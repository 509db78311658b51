/**
 * The parsers of the commands' numeric and time options (cli/option-values.ts):
 * the whole text or nothing, named in a ConfigError (exit 2 in main.ts).
 */
import { expect } from 'chai';
import { duration, pointInTime, positiveInt, ratePerSecond } from '../../src/cli/option-values';
import { confirmLargeReplay } from '../../src/cli/replay-confirm';
import { ConfigError } from '../../src/errors';

describe('command option values', () => {
  it('positiveInt takes whole numbers from 1 and refuses the rest, naming the option', () => {
    const limit = positiveInt('--limit');
    expect(limit('10')).to.equal(10);
    expect(limit(' 7 ')).to.equal(7);
    for (const bad of ['10x', 'abc', '', '0', '-3', '2.5', '1e3', '0x10', '99999999999999999999']) {
      expect(() => limit(bad), bad).to.throw(ConfigError, `--limit ${JSON.stringify(bad)}`);
    }
  });

  it('duration takes seconds or a unit, more than 0 and at most a week', () => {
    const timeout = duration('--timeout');
    expect(timeout('30')).to.equal(30_000);
    expect(timeout('2.5')).to.equal(2_500);
    expect(timeout('500ms')).to.equal(500);
    expect(timeout('5m')).to.equal(300_000);
    expect(timeout('1h')).to.equal(3_600_000);
    for (const bad of ['abc', '10x', '0', '0s', '-5', '5 minutes', '8d', '700000', '']) {
      expect(() => timeout(bad), bad).to.throw(ConfigError, '--timeout');
    }
  });

  it('ratePerSecond takes n, n/s or n/m', () => {
    const rate = ratePerSecond('--rate');
    expect(rate('50')).to.equal(50);
    expect(rate('50/s')).to.equal(50);
    expect(rate('600/m')).to.equal(10);
    for (const bad of ['abc', '0', '-5/s', '50/h', '/s', '']) expect(() => rate(bad), bad).to.throw(ConfigError, '--rate');
  });

  it('pointInTime takes ISO 8601 or -2h, not whatever Date would guess', () => {
    const from = pointInTime('--from');
    expect(from('2026-11-25T08:00:00Z').toISOString()).to.equal('2026-11-25T08:00:00.000Z');
    expect(from('2026-11-25').toISOString()).to.equal('2026-11-25T00:00:00.000Z');
    expect(Date.now() - from('-2h').getTime()).to.be.within(7_199_000, 7_201_000);
    for (const bad of ['yesterday', '5', 'May 5', '-2x', '2026-13-45', '']) expect(() => from(bad), bad).to.throw(ConfigError, '--from');
  });
});

describe('asking before a large replay', () => {
  const large = { selected: 500, hosts: 3, asNew: false, threshold: 100, yes: false, interactive: true };

  it('does not ask at or under the threshold, or with --yes', async () => {
    const ask = () => Promise.reject(new Error('asked'));
    expect(await confirmLargeReplay({ ...large, selected: 100, ask })).to.equal(true);
    expect(await confirmLargeReplay({ ...large, yes: true, interactive: false, ask })).to.equal(true);
  });

  it('asks on a terminal, naming the count, the hosts and --as-new; only yes goes on', async () => {
    const asked: string[] = [];
    const answer = (a: string) => (q: string) => {
      asked.push(q);
      return Promise.resolve(a);
    };
    expect(await confirmLargeReplay({ ...large, asNew: true, ask: answer('y') })).to.equal(true);
    expect(asked[0]).to.contain('500 messages to 3 host(s)').and.contain('--as-new');
    expect(await confirmLargeReplay({ ...large, ask: answer('YES') })).to.equal(true);
    expect(await confirmLargeReplay({ ...large, ask: answer('') })).to.equal(false);
    expect(await confirmLargeReplay({ ...large, ask: answer('n') })).to.equal(false);
  });

  it('refuses without a terminal to ask on', async () => {
    const err = await confirmLargeReplay({ ...large, interactive: false }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ConfigError);
    expect(String((err as Error).message)).to.contain('--yes').and.contain('500');
  });
});
