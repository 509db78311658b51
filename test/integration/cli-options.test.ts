/**
 * Every numeric and time option of every command is checked before anything
 * happens (issue 13 item 3): a bad value exits 2 with one line naming the
 * option, never a stack trace, never "ignored"; and `replay` refuses to
 * select the whole journal by default. Against the real CLI (and broker: a
 * command that got past its options would connect).
 */
import { expect } from 'chai';
import { runCli } from '../support/worker-process';

const usageError = async (args: string[], names: string | RegExp): Promise<void> => {
  const r = await runCli(args, {}, 30_000);
  const lines = r.stderr.trim().split('\n');
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).to.equal(2);
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(typeof names === 'string' ? new RegExp(names.replace(/[-[\]()*+?.]/g, '\\$&')) : names);
  expect(r.stderr).to.not.match(/^\s+at /m);
  expect(r.stdout).to.equal('');
};

describe('command options are validated (exit 2, one line)', function () {
  this.timeout(120_000);

  const cases: [string[], string][] = [
    [['replay', '--host', 'h', '--limit', '10x'], '--limit "10x"'],
    [['replay', '--host', 'h', '--limit', '0'], '--limit "0"'],
    [['replay', '--host', 'h', '--rate', 'abc'], '--rate "abc"'],
    [['replay', '--host', 'h', '--rate', '-5/s'], '--rate "-5/s"'],
    [['replay', '--host', 'h', '--from', 'yesterday'], '--from "yesterday"'],
    [['replay', '--host', 'h', '--to', '5'], '--to "5"'],
    [['replay', '--host', 'h', '--confirm-above', 'many'], '--confirm-above "many"'],
    [['replay', '--host', 'h', '--timeout', 'abc'], '--timeout "abc"'],
    [['events', '--count', 'abc'], '--count "abc"'],
    [['events', '--count', '2.5'], '--count "2.5"'],
    [['events', '--idle', '10x'], '--idle "10x"'],
    [['call', 'instance.get_state', '--args', '{"instance_uuid":"x"}', '--timeout', 'abc'], '--timeout "abc"'],
    [['call', 'instance.get_state', '--args', '{"instance_uuid":"x"}', '--timeout', '0'], '--timeout "0"'],
    [['inspect', '--host', 'h', '--limit', '10x'], '--limit "10x"'],
    [['inspect', '--host', 'h', '--since', 'abc'], '--since "abc"'],
    [['inspect', '--host', 'h', '--timeout', 'abc'], '--timeout "abc"'],
    [['worker', '--host', 'h', '--prefetch', '10x'], '--prefetch'],
  ];
  for (const [args, names] of cases) {
    it(`refuses ${args.join(' ')}`, () => usageError(args, names));
  }

  it('replay refuses to select every host unless told --all-hosts', async () => {
    await usageError(['replay'], /--host .*--all-hosts/);
    await usageError(['replay', '--kind', 'instance.*', '--dry-run'], /--host .*--all-hosts/);
    await usageError(['replay', '--host', 'h', '--all-hosts'], /choose one/);
  });
});
