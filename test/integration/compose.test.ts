/** docker-compose.yml is valid (`docker compose config -q`); no Docker engine is needed for that. */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');

async function compose(): Promise<string[] | undefined> {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const [bin = '', ...pre] = cmd;
    const ok = await run(bin, [...pre, 'version'], { cwd: ROOT }).then(() => true, () => false);
    if (ok) return cmd;
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  it('passes `docker compose config -q` (RabbitMQ and a worker built from the Dockerfile)', async function () {
    const cmd = await compose();
    if (!cmd) {
      // scripts/setup.sh --test installs docker-compose; without it there is nothing to check with.
      this.skip();
      return;
    }
    const [bin = '', ...pre] = cmd;
    const r = await run(bin, [...pre, 'config', '-q'], { cwd: ROOT });
    expect(r.stderr.trim()).to.equal('');
    const full = await run(bin, [...pre, 'config'], { cwd: ROOT });
    expect(full.stdout).to.contain('rabbitmq');
    expect(full.stdout).to.match(/HOSTWALL_LIBVIRT_URI:\s*test:\/\/\/default/);
  });
});
