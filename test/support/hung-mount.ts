/**
 * A mounted filesystem whose file never answers (test/support/hung_fs.py,
 * FUSE), standing in for a file on a hung NFS server. A process that looks
 * the file up sleeps uninterruptibly until the FUSE connection is aborted:
 * release() aborts it (freeing every such call), unmounts and ends the
 * daemon. Needs root, /dev/fuse and python3-fusepy (scripts/setup.sh --test).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { DEBIAN_PYTHON } from './python';

const SCRIPT = path.join(__dirname, '../../../test/support/hung_fs.py');
const FUSECTL = '/sys/fs/fuse/connections';

export interface HungMount {
  /** Looking this up (stat, open) never returns until release(). */
  hungFile: string;
  release(): Promise<void>;
}

/** Why a hung mount cannot be made here, or undefined. */
export function hungMountUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import fusepy'], { stdio: 'ignore' });
  } catch {
    return 'no python3-fusepy';
  }
  return undefined;
}

/** The FUSE connection of the mount at `dir`: its device minor (from mountinfo, which never touches the mount). */
function connectionOf(dir: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === dir) return f[2]?.split(':')[1];
  }
  return undefined;
}

export async function mountHung(dir: string): Promise<HungMount> {
  const child: ChildProcess = spawn(DEBIAN_PYTHON, [SCRIPT, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const first = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 10_000);
    child.once('exit', () => resolve('exited'));
    if (child.stdout) createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  const conn = connectionOf(dir);
  const release = async () => {
    if (conn !== undefined) {
      if (!existsSync(FUSECTL + '/' + conn)) await run('mount', ['-t', 'fusectl', 'none', FUSECTL]).catch(() => undefined);
      try {
        writeFileSync(`${FUSECTL}/${conn}/abort`, '1');
      } catch {
        // already gone
      }
      await run('umount', ['-l', dir]).catch(() => undefined);
    }
    child.kill('SIGKILL');
  };
  if (first !== 'ready' || conn === undefined) {
    await release();
    throw new Error(`hung filesystem did not mount at ${dir} (${first})`);
  }
  return { hungFile: path.join(dir, 'hung.img'), release };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(cmd, args, { timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
}
