/**
 * hostwall reads INI files as oslo.config does: checked against Debian's real
 * oslo.config on the same files (parsing, comments, quotes, continuation
 * lines, repeated --config-file, --config-dir order, $substitution).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../src/errors';
import { DEFAULT_SECTION, iniValue, loadIniFiles } from '../../src/oslo/config-files';
import { DEBIAN_PYTHON } from '../support/python';

const SCRIPT = join(__dirname, '..', '..', '..', 'test', 'compat', 'py', 'oslo_config_read.py');

type Options = Record<string, string[]>;

function oslo(files: string[], dirs: string[], options: Options): Record<string, Record<string, unknown>> {
  const out = execFileSync(DEBIAN_PYTHON, [SCRIPT, JSON.stringify({ files, dirs, options })], { encoding: 'utf8' });
  const parsed = JSON.parse(out) as { ok?: Record<string, Record<string, unknown>>; error?: string; message?: string };
  if (!parsed.ok) throw new Error(`oslo.config failed: ${parsed.error}: ${parsed.message}`);
  return parsed.ok;
}

function ours(files: string[], dirs: string[], options: Options): Record<string, Record<string, unknown>> {
  const ini = loadIniFiles(files, dirs);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, keys] of Object.entries(options)) {
    out[section] = {};
    for (const k of keys) out[section][k] = iniValue(ini, section, k) ?? null;
  }
  return out;
}

/** `${name}`, oslo's braced reference, written without a template-looking string literal. */
const ref = (name: string): string => ['$', '{', name, '}'].join('');

describe('oslo.config INI files, against Debian oslo.config', () => {
  let dir: string;
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hw-ini-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('parses comments, quotes, colons, continuation lines and $substitution as oslo.config does', () => {
    const f = write('a.conf', [
      '[DEFAULT]',
      '# a comment line',
      '; another',
      'host = compute-7',
      'state_path: /srv/nova',
      'instances_path = $state_path/instances',
      'quoted = "with spaces "',
      "single = 'x'",
      'inline = value # not a comment',
      'url = rabbit://u:p@h1:5672,u2:p2@h2:5672/vh',
      'dollar = cost $$5',
      `braced = ${ref('state_path')}/x`,
      'multi = first',
      '  second',
      '',
      '[placement]',
      'auth_type = admin_token',
      'endpoint_override = http://127.0.0.1:8778',
      'token=  admin  ',
      `ref = ${ref('placement.auth_type')}-p`,
      'local = $auth_type',
    ].join('\n'));
    const options: Options = {
      [DEFAULT_SECTION]: ['host', 'state_path', 'instances_path', 'quoted', 'single', 'inline', 'url', 'dollar', 'braced', 'multi', 'unset'],
      placement: ['auth_type', 'endpoint_override', 'token', 'ref', 'local'],
    };
    expect(ours([f], [], options)).to.deep.equal(oslo([f], [], options));
  });

  it('lets later --config-file override earlier ones key by key, then --config-dir files in name order', () => {
    const a = write('a.conf', '[DEFAULT]\nhost = a\nmy_ip = 10.0.0.1\n[placement]\ntoken = a\n');
    const b = write('b.conf', '[DEFAULT]\nhost = b\n');
    const d = join(dir, 'conf.d');
    mkdirSync(d);
    writeFileSync(join(d, '20-late.conf'), '[DEFAULT]\nhost = late\n');
    writeFileSync(join(d, '10-early.conf'), '[DEFAULT]\nhost = early\nreport_interval = 5\n');
    writeFileSync(join(d, 'ignored.txt'), '[DEFAULT]\nhost = never\n');
    const options: Options = { [DEFAULT_SECTION]: ['host', 'my_ip', 'report_interval'], placement: ['token'] };
    expect(ours([a, b], [d], options)).to.deep.equal(oslo([a, b], [d], options));
    expect(ours([a, b], [d], options)[DEFAULT_SECTION]?.host).to.equal('late');
  });

  it('refuses what oslo.config refuses, naming the file and line', () => {
    const bad = write('bad.conf', '[DEFAULT]\nhost compute\n');
    expect(() => loadIniFiles([bad])).to.throw(ConfigError, /bad\.conf: line 2: no ':' or '=' found/);
    expect(() => oslo([bad], [], { [DEFAULT_SECTION]: ['host'] })).to.throw(/ConfigFileParseError|ParseError/);
    const cont = write('cont.conf', '[DEFAULT]\n  orphan\n');
    expect(() => loadIniFiles([cont])).to.throw(ConfigError, /unexpected continuation/);
    expect(() => loadIniFiles([join(dir, 'missing.conf')])).to.throw(ConfigError, /missing\.conf/);
    const loop = write('loop.conf', '[DEFAULT]\na = $b\nb = $a\n');
    expect(() => iniValue(loadIniFiles([loop]), DEFAULT_SECTION, 'a')).to.throw(ConfigError, /refers to itself/);
    const dflt = write('dflt.conf', `[DEFAULT]\nhost = h\n[placement]\nref = ${ref('DEFAULT.host')}\n`);
    expect(() => iniValue(loadIniFiles([dflt]), 'placement', 'ref')).to.throw(ConfigError, /\$name/);
    expect(oslo([dflt], [], { placement: ['ref'] }).placement?.ref).to.deep.equal({ error: 'NoSuchGroupError' });
    const unknown = write('unknown.conf', '[DEFAULT]\na = $nope/x\n');
    expect(() => iniValue(loadIniFiles([unknown]), DEFAULT_SECTION, 'a')).to.throw(ConfigError, /\$nope, which is not set/);
  });
});
