/**
 * A libvirtd of our own, in session mode as `nobody` with its socket and pid
 * file in a temporary directory, so a test can stop and restart "the daemon"
 * without touching the host's libvirtd that other tests share. Needs root (to
 * become nobody), setpriv and libvirtd.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PrivateLibvirtd {
  /** test+unix:///default on this daemon's socket. */
  uri: string;
  /** Start it again after halt(); resolves once its socket answers. */
  start(): Promise<void>;
  /** SIGTERM, and wait until the process is gone. */
  halt(): Promise<void>;
  restart(): Promise<void>;
  /** Halt and remove its directory. */
  stop(): Promise<void>;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPrivateLibvirtd(): Promise<PrivateLibvirtd> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const uid = Number((await run('id', ['-u', 'nobody'])).trim());
  const gid = Number((await run('id', ['-g', 'nobody'])).trim());
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostwall-libvirtd-'));
  const runtime = path.join(dir, 'run');
  await fs.mkdir(runtime, { mode: 0o700 });
  await fs.chown(dir, uid, gid);
  await fs.chown(runtime, uid, gid);
  const sock = path.join(runtime, 'libvirt', 'libvirt-sock');
  const pidFile = path.join(runtime, 'libvirt', 'libvirtd.pid');
  let pid = 0;
  const start = async () => {
    const env = [`HOME=${dir}`, `XDG_RUNTIME_DIR=${runtime}`, `XDG_CONFIG_HOME=${dir}/config`, `XDG_CACHE_HOME=${dir}/cache`, 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
    await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'env', '-i', ...env, 'libvirtd', '-d']);
    // An external daemon: poll for its socket and pid file.
    for (let i = 0; i < 100 && !pid; i++) {
      const text = await fs.readFile(pidFile, 'utf8').catch(() => '');
      if (text && (await fs.stat(sock).catch(() => undefined))) pid = Number(text.trim());
      else await sleep(50);
    }
    if (!pid) throw new Error('private libvirtd did not come up');
  };
  const halt = async () => {
    if (pid && alive(pid)) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && pid && alive(pid); i++) await sleep(50);
    pid = 0;
  };
  await start();
  return {
    uri: `test+unix:///default?socket=${sock}`,
    start,
    halt,
    restart: async () => {
      await halt();
      await start();
    },
    stop: async () => {
      await halt();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
