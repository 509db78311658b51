/**
 * Every command with bad input, as an operator would type it: exit code 2
 * for a command or configuration that is wrong, 1 for a failure while doing
 * it, 0 for --help and --version; never a stack trace, always one line that
 * says why (README "Exit codes").
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueHost } from '../support/worker';
import { ROOT, runCli } from '../support/worker-process';

const STACK = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .*:\d+:\d+$/m;

interface Case {
  args: string[];
  code: number;
  /** What stderr must say. */
  says: RegExp;
  env?: Record<string, string>;
}

const host = uniqueHost('exit');
const USAGE: Case[] = [
  { args: [], code: 2, says: /Usage: hostwall/ },
  { args: ['bogus'], code: 2, says: /unknown command 'bogus'/ },
  { args: ['worker', '--bogus'], code: 2, says: /unknown option '--bogus'/ },
  { args: ['worker', '--concurrency', '0'], code: 2, says: /^hostwall: CONFIG_INVALID: invalid setting --concurrency:/ },
  { args: ['worker', '--http-address', 'localhost:99999'], code: 2, says: /invalid setting --http-address: port must be at most 65535/ },
  { args: ['worker', '--log-level', 'loud'], code: 2, says: /invalid setting --log-level/ },
  { args: ['worker', '--log-file', '/nonexistent-hostwall-dir/w.log', '--host', host], code: 2, says: /log file \/nonexistent-hostwall-dir\/w\.log: ENOENT/ },
  { args: ['worker', '--config-file', '/nonexistent-hostwall.conf'], code: 2, says: /^hostwall: CONFIG_INVALID: .*nonexistent-hostwall\.conf/ },
  { args: ['worker'], env: { HOSTWALL_QUEUES: 'forever' }, code: 2, says: /invalid setting HOSTWALL_QUEUES/ },
  { args: ['send'], code: 2, says: /missing required argument 'kind'/ },
  { args: ['send', 'instance.power_on', '--host', host, '--args', '{'], code: 2, says: /^hostwall: --args is not JSON/ },
  { args: ['call', 'instance.power_on', '--host', host, '--args', '[]'], code: 2, says: /^hostwall: --args must be a JSON object/ },
  { args: ['call', 'instance.power_on', '--host', host, '--args', '{}'], code: 2, says: /^hostwall: INVALID_INTENT: .*instance_uuid/ },
  { args: ['call', 'instance.power_on', '--host', host, '--schema-version', '9.0', '--args', '{}'], code: 2, says: /^hostwall: UNSUPPORTED_VERSION/ },
  { args: ['call', 'no.such_kind', '--host', host], code: 2, says: /^hostwall: UNKNOWN_KIND/ },
  { args: ['call', 'host.inventory', '--host', host, '--amqp-url', 'http://x'], code: 2, says: /invalid setting --amqp-url/ },
  { args: ['events', '--bogus'], code: 2, says: /unknown option '--bogus'/ },
  { args: ['inspect'], code: 2, says: /required option '--host <host>' not specified/ },
  { args: ['status', '--timeout', 'abc', '--host', host], code: 2, says: /^hostwall: --timeout must be a positive number of seconds/ },
  { args: ['config'], code: 2, says: /Usage: hostwall config/ },
  { args: ['config', 'table', '--check', '/nonexistent-readme.md'], code: 1, says: /^hostwall: ENOENT/ },
  { args: ['demo', '--amqp-url', 'nope://x'], code: 2, says: /invalid setting --amqp-url/ },
  { args: ['schemas', '--out', '/etc/hostname/schemas'], code: 1, says: /^hostwall: ENOTDIR/ },
];

const FAILURES: Case[] = [
  { args: ['call', 'host.inventory', '--host', host, '--amqp-url', 'amqp://guest:wrong@127.0.0.1:5672'], code: 1, says: /^hostwall: TRANSPORT_ERROR: cannot connect .*ACCESS_REFUSED/ },
  { args: ['send', 'host.inventory', '--host', host], code: 1, says: new RegExp(`^hostwall: TRANSPORT_ERROR: no queue compute\\.${host}`) },
  { args: ['status', '--host', host], code: 1, says: /^$/ },
];

describe('CLI exit codes and one-line errors', function () {
  this.timeout(120_000);

  for (const c of [...USAGE, ...FAILURES]) {
    it(`hostwall ${c.args.join(' ') || '(nothing)'}${c.env ? ` with ${Object.keys(c.env).join(', ')}` : ''} exits ${c.code}, no stack trace`, async () => {
      const r = await runCli(c.args, { HOSTWALL_STATE_PATH: '/tmp/hostwall-exit-codes', HOSTWALL_INSTANCES_PATH: '/tmp/hostwall-exit-codes/i', ...c.env }, 60_000);
      expect(r.code, r.stderr).to.equal(c.code);
      expect(r.stderr).to.match(c.says);
      expect(r.stderr).to.not.match(STACK);
      expect(r.stdout).to.not.match(STACK);
      if (r.stderr.startsWith('hostwall: ')) expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    });
  }

  it('--version answers on every command, exit 0', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    for (const args of [['--version'], ['worker', '--version'], ['send', '--version'], ['status', '-V'], ['config', 'sample', '--version']]) {
      const r = await runCli(args);
      expect(r, args.join(' ')).to.deep.include({ code: 0, stdout: `${version}\n` });
    }
  });
});
