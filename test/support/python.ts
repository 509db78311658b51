/**
 * Drive a real Python peer (Debian's /usr/bin/python3, where oslo.messaging
 * and Nova live) line by line: JSON in on stdin, JSON out on stdout.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { withChannel } from './broker';
import { Arrivals } from './inbox';

export const DEBIAN_PYTHON = '/usr/bin/python3';

export interface PyPeer {
  send(obj: unknown): void;
  /** The next JSON line the peer prints; rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Lines printed so far and not yet taken by next(). */
  drain(): Record<string, unknown>[];
  close(): Promise<void>;
  readonly stderr: () => string;
}

export function startPython(script: string, env: Record<string, string>): PyPeer {
  if (!existsSync(DEBIAN_PYTHON)) throw new Error(`${DEBIAN_PYTHON} is missing: run scripts/setup.sh --test`);
  const child: ChildProcessWithoutNullStreams = spawn(DEBIAN_PYTHON, [script], { env: { ...process.env, ...env, PYTHONUNBUFFERED: '1' } });
  const lines = new Arrivals<Record<string, unknown>>();
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      obj = { raw: line };
    }
    lines.push(obj);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    send: (obj) => child.stdin.write(`${JSON.stringify(obj)}\n`),
    next: (timeoutMs = 30_000) => lines.next(timeoutMs, 'output').catch(() => {
      throw new Error(`python peer ${script}: no output in ${timeoutMs} ms; stderr:\n${err.slice(-3000)}`);
    }),
    drain: () => lines.drain(),
    close: async () => {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
    stderr: () => err,
  };
}

/**
 * Delete a queue a Python peer declared and leaves behind (an oslo listener's
 * pool queue outlives the listener and keeps collecting notifications).
 */
export async function deleteQueue(name: string): Promise<void> {
  await withChannel((ch) => ch.deleteQueue(name)).catch(() => undefined);
}

/**
 * What an oslo notification listener peer (compat/py/oslo_listener.py)
 * printed about one instance, by event_type, once every `wanted` type has
 * come (or `timeoutMs` has passed: the caller's assertion names what is
 * missing). Notifications about other instances are passed over.
 */
export async function notificationsAbout(listener: PyPeer, instanceUuid: string, wanted: readonly string[], timeoutMs = 30_000): Promise<Map<string, Record<string, unknown>>> {
  const seen = new Map<string, Record<string, unknown>>();
  const deadline = Date.now() + timeoutMs;
  while (wanted.some((w) => !seen.has(w)) && Date.now() < deadline) {
    const n = await listener.next(timeoutMs);
    const payload = n.payload as Record<string, Record<string, unknown>> | undefined;
    if (payload?.['nova_object.data']?.uuid === instanceUuid) seen.set(String(n.event_type), n);
  }
  return seen;
}
