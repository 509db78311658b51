/**
 * Debian's real OpenStack Placement (python3-placement, 8.0.0 in bookworm) for
 * tests: `placement.wsgi.init_application` served by wsgiref with a thread per
 * request (placement_server.py), under /usr/bin/python3, on a free port of
 * 127.0.0.1, with a SQLite database in a temporary directory and
 * `[api] auth_strategy = noauth2` (any X-Auth-Token is accepted; "admin" gets
 * the admin role). No Keystone. One server per call: nothing is shared with
 * other tests or helpers; `stop()` kills it and removes the directory.
 * Start-up (schema included) takes ~2 s.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEBIAN_PYTHON } from './python';

const SCRIPT = join(__dirname, '..', '..', '..', 'test', 'support', 'placement_server.py');

export interface PlacementServer {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** The token noauth2 maps to an admin: send it as X-Auth-Token. */
  adminToken: string;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startPlacement(opts: { readyTimeoutMs?: number } = {}): Promise<PlacementServer> {
  if (!existsSync('/usr/lib/python3/dist-packages/placement')) throw new Error('python3-placement is missing: run scripts/setup.sh --test');
  const dir = mkdtempSync(join(tmpdir(), 'hostwall-placement-'));
  writeFileSync(
    join(dir, 'placement.conf'),
    ['[DEFAULT]', 'use_stderr = true', '[api]', 'auth_strategy = noauth2', '[placement_database]', `connection = sqlite:///${join(dir, 'placement.db')}`, ''].join('\n'),
  );
  const child = spawn(DEBIAN_PYTHON, [SCRIPT], { env: { ...process.env, OS_PLACEMENT_CONFIG_DIR: dir, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`placement did not start in ${timeoutMs} ms; stderr:\n${err.slice(-3000)}`)), timeoutMs);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^\{"port": (\d+)\}$/.exec(line.trim());
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`placement exited before serving; stderr:\n${err.slice(-3000)}`));
      });
    });
    return { url: `http://127.0.0.1:${port}`, adminToken: 'admin', stderr: () => err, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
