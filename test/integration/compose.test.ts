/**
 * The deployment files: docker-compose.yml is valid (`docker compose config
 * -q`; no Docker engine is needed for that) and keeps the worker's state and
 * shutdown; the Dockerfile's promises as text (no engine here to build it);
 * the systemd unit as systemd-analyze reads it.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

async function compose(): Promise<string[] | undefined> {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const [bin = '', ...pre] = cmd;
    const ok = await run(bin, [...pre, 'version'], { cwd: ROOT }).then(() => true, () => false);
    if (ok) return cmd;
  }
  return undefined;
}

/** "45s", "1m30s" → seconds. */
function seconds(d: string): number {
  let s = 0;
  for (const [, n, u] of d.matchAll(/(\d+)(h|m|s)/g)) s += Number(n) * (u === 'h' ? 3600 : u === 'm' ? 60 : 1);
  return s;
}

describe('docker-compose.yml', () => {
  it('passes `docker compose config -q`: RabbitMQ, a worker built from the Dockerfile with a named state volume, a grace longer than its shutdown timeout, a health check', async function () {
    const cmd = await compose();
    if (!cmd) {
      // scripts/setup.sh --test installs docker-compose; without it there is nothing to check with.
      this.skip();
      return;
    }
    const [bin = '', ...pre] = cmd;
    const r = await run(bin, [...pre, 'config', '-q'], { cwd: ROOT });
    expect(r.stderr.trim()).to.equal('');
    const full = (await run(bin, [...pre, 'config'], { cwd: ROOT })).stdout;
    expect(full).to.contain('rabbitmq');
    expect(full).to.match(/HOSTWALL_LIBVIRT_URI:\s*test:\/\/\/default/);
    expect(full).to.match(/volumes:\n\s+- hostwall-state:\/var\/lib\/hostwall/);
    expect(full).to.match(/^volumes:\n\s+hostwall-state:/m);
    const shutdown = Number(/HOSTWALL_SHUTDOWN_TIMEOUT: '?(\d+)'?/.exec(full)?.[1] ?? loadConfig({ env: {} }).shutdownTimeoutMs / 1000);
    const grace = seconds(/stop_grace_period: (\S+)/.exec(full)?.[1] ?? '10s');
    expect(grace, 'stop_grace_period').to.be.greaterThan(shutdown);
    expect(full).to.match(/healthcheck:\n(\s+\S.*\n)*?\s+test:\n\s+- CMD\n\s+- node\n\s+- dist\/src\/cli\/ready-probe\.js/);
  });
});

describe('Dockerfile and .dockerignore', () => {
  const docker = read('Dockerfile');
  const stages = docker.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? '';

  it('builds on a maintained Node LTS (22 or 24), not Node 20', () => {
    for (const s of stages) expect(s).to.match(/^node:(22|24)[.\w-]*/);
  });

  it('runs as a non-root user, keeps the state path in a VOLUME, checks /readyz, answers SIGTERM', () => {
    expect(final).to.match(/^USER hostwall$/m);
    expect(final).to.match(/^VOLUME \["\/var\/lib\/hostwall"\]$/m);
    expect(final).to.match(/HOSTWALL_STATE_PATH=\/var\/lib\/hostwall/);
    expect(final).to.match(/^HEALTHCHECK .*\\\n\s+CMD \["node", "dist\/src\/cli\/ready-probe\.js"\]$/m);
    // The probe asks the address the image sets: /readyz on localhost.
    expect(final).to.match(/HOSTWALL_HTTP_ADDRESS=127\.0\.0\.1:9464/);
    expect(final).to.match(/^STOPSIGNAL SIGTERM$/m);
    expect(docker).to.contain('--group-add').and.contain('libvirt-sock');
  });

  it('leaves the checkout\'s node_modules, dist, tests and benchmarks out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignored).to.include.members(['node_modules', 'dist', 'test', 'bench', '.git']);
  });
});

describe('examples/hostwall.service', () => {
  const unit = read('examples/hostwall.service');

  it('is Type=simple (hostwall does not call sd_notify), reloads with SIGHUP, waits longer than the shutdown timeout', () => {
    expect(unit).to.match(/^Type=simple$/m);
    expect(unit).to.match(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).to.match(/^User=hostwall$/m).and.match(/^SupplementaryGroups=libvirt$/m).and.match(/^StateDirectory=hostwall$/m);
    expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])).to.be.greaterThan(loadConfig({ env: {} }).shutdownTimeoutMs / 1000);
  });

  it('passes systemd-analyze verify (with ExecStart pointing at this checkout)', async function () {
    const ok = await run('systemd-analyze', ['--version']).then(() => true, () => false);
    if (!ok) {
      this.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'hw-unit-'));
    const file = join(dir, 'hostwall.service');
    writeFileSync(file, unit.replace('/usr/local/bin/hostwall', join(ROOT, 'bin', 'hostwall')));
    const r = await run('systemd-analyze', ['verify', file]).catch((err: { stderr: string; code: number }) => ({ stderr: err.stderr, code: err.code }));
    expect(r.stderr.trim()).to.equal('');
  });
});
