/**
 * A worker in a child process (`node bin/hostwall worker`), for tests that
 * need a worker's own hypervisor state (test:///default lives and dies with
 * its process), a kill -9, or the CLI exactly as an operator runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { IntentClient } from '../../src/client/intent-client';
import type { Transport } from '../../src/transport/transport';
import { AMQP_URL, connectTransport } from './worker';

export const ROOT = join(__dirname, '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'hostwall');

/** The environment of a worker with a state path (intent store) of its own. */
export function stateDir(): Record<string, string> {
  return { HOSTWALL_STATE_PATH: mkdtempSync(join(tmpdir(), 'hw-state-')), HOSTWALL_INSTANCES_PATH: join(tmpdir(), 'hw-inst') };
}

export interface WorkerProcess {
  child: ChildProcess;
  logs: string[];
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves with the first log line, from now on, that contains `text`. */
  nextLog(text: string, timeoutMs?: number): Promise<string>;
}

/** Resolves once the worker logs `ready` (by default: it runs). */
export async function startWorkerProcess(host: string, env: Record<string, string> = {}, args: string[] = [], ready = '"worker running"'): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--host', host, '--log-format', 'json', ...args], {
    env: { ...process.env, AMQP_URL, HOSTWALL_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker ${host} did not log ${ready} in 30 s:\n${logs.join('\n')}`)), 30_000);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        logs.push(line);
        for (const w of [...watchers]) w(line);
        if (line.includes(ready)) {
          clearTimeout(t);
          resolve();
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`worker ${host} exited with ${code} before running:\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    logs,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    nextLog: (text, timeoutMs = 30_000) =>
      new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => {
          watchers.delete(watch);
          reject(new Error(`worker ${host} did not log ${text} in ${timeoutMs} ms:\n${logs.slice(-20).join('\n')}`));
        }, timeoutMs);
        const watch = (line: string): void => {
          if (!line.includes(text)) return;
          clearTimeout(t);
          watchers.delete(watch);
          resolve(line);
        };
        watchers.add(watch);
      }),
  };
}

/** Run the CLI to completion; resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, AMQP_URL, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hostwall ${args.join(' ')} took over ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The broker side of a suite that runs worker processes: one intent client,
 * on a connection of its own, for the whole suite, and every worker the suite
 * puts on `workers` stopped at the end. Call inside describe().
 */
export function processSuite(connectionName: string): { readonly client: IntentClient; readonly workers: WorkerProcess[] } {
  let transport: Transport | undefined;
  let client: IntentClient | undefined;
  const workers: WorkerProcess[] = [];
  before(async () => {
    transport = await connectTransport(connectionName);
    client = new IntentClient(transport, { controlExchange: 'nova' });
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await transport?.close();
  });
  return {
    get client(): IntentClient {
      if (!client) throw new Error(`${connectionName}: the intent client is made in the suite's before() hook`);
      return client;
    },
    workers,
  };
}
