/**
 * `npm pack` makes a package that works: prepack compiles src/ into dist/,
 * the tarball holds the CLI and the compiled sources, no tests, benchmarks,
 * TypeScript sources or source maps, and `hostwall` runs from it.
 *
 * The tarball's own `npm install` (what `npx hostwall` from it does) needs
 * the registry and compiles better-sqlite3 (~2-3 min): set
 * HOSTWALL_TEST_NPM_INSTALL=1 to run that too; otherwise the unpacked
 * package runs against this checkout's node_modules.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ROOT } from '../support/worker-process';

const run = promisify(execFile);
const Packed = z.array(z.object({ filename: z.string(), files: z.array(z.object({ path: z.string() })) })).length(1);
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('npm pack', function () {
  this.timeout(900_000);
  const dir = mkdtempSync(join(tmpdir(), 'hw-pack-'));
  let tarball = '';
  let files: string[] = [];

  before(async () => {
    const r = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [packed] = Packed.parse(JSON.parse(r.stdout));
    tarball = join(dir, packed?.filename ?? '');
    files = packed?.files.map((f) => f.path) ?? [];
  });

  it('holds the CLI and the compiled sources, and no tests, benchmarks, TypeScript or source maps', () => {
    expect(files).to.include.members(['bin/hostwall', 'dist/src/cli/main.js', 'dist/src/cli/ready-probe.js', 'package.json', 'README.md', 'examples/hostwall.service']);
    expect(files.filter((f) => /^(dist\/)?(test|bench)\/|^src\/|\.ts$|\.map$/.test(f))).to.deep.equal([]);
  });

  it('runs from the unpacked package: --version, schemas --out, config sample', async () => {
    const unpacked = mkdtempSync(join(tmpdir(), 'hw-unpacked-'));
    await run('tar', ['-xzf', tarball, '-C', unpacked]);
    const pkg = join(unpacked, 'package');
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    const bin = join(pkg, 'bin', 'hostwall');
    expect((await run(process.execPath, [bin, '--version'])).stdout).to.equal(`${version}\n`);
    const out = join(unpacked, 'schemas');
    expect((await run(process.execPath, [bin, 'schemas', '--out', out])).stdout).to.match(/^wrote \d+ schema files/);
    expect(readdirSync(out)).to.include('events');
    expect((await run(process.execPath, [bin, 'config', 'sample'])).stdout).to.contain('[hostwall]');
  });

  it('installs with npm and runs as `npx hostwall` (HOSTWALL_TEST_NPM_INSTALL=1)', async function () {
    if (process.env.HOSTWALL_TEST_NPM_INSTALL !== '1') {
      this.skip();
      return;
    }
    const app = mkdtempSync(join(tmpdir(), 'hw-install-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'hostwall-install-test', version: '1.0.0', private: true }));
    // better-sqlite3 compiles against Debian's Node headers (scripts/setup.sh does the same).
    const env = { ...process.env, npm_config_nodedir: '/usr' };
    await run('npm', ['install', tarball, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, env, maxBuffer: 16 * 1024 * 1024 });
    expect((await run('npx', ['hostwall', '--version'], { cwd: app })).stdout).to.equal(`${version}\n`);
    expect((await run('npx', ['hostwall', 'schemas', '--out', join(app, 'schemas')], { cwd: app })).stdout).to.match(/^wrote \d+ schema files/);
  });
});
