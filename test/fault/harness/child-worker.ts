/**
 * The worker as the operator runs it: `node bin/hostwall worker ...` in a
 * child process, which the test can SIGKILL (no drain, no last write) or
 * SIGTERM, and start again on the same host and state path.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = join(__dirname, '..', '..', '..', '..', 'bin', 'hostwall');

export interface ChildWorkerOptions {
  host: string;
  amqpUrl: string;
  libvirtUri: string;
  statePath: string;
  queues: 'durable' | 'quorum';
  extra?: string[];
}

export class ChildWorker {
  private constructor(
    readonly child: ChildProcess,
    readonly exited: Promise<number | null>,
    readonly logs: string[],
  ) {}

  /** Start and resolve once `ready()` says it consumes (rejects if it exits first). */
  static async start(o: ChildWorkerOptions, ready: () => Promise<boolean>): Promise<ChildWorker> {
    const args = [
      BIN, 'worker', '--host', o.host, '--amqp-url', o.amqpUrl, '--libvirt-uri', o.libvirtUri, '--state-path', o.statePath,
      '--queues', o.queues, '--log-format', 'json', '--log-level', process.env.TEST_LOG_LEVEL ?? 'warn',
      '--instances-path', '/tmp/hostwall-test-instances', ...(o.extra ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const logs: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const running = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start in 30 s: ${logs.slice(-5).join('\n')}`)), 30_000);
      if (!child.stderr) throw new Error('no stderr');
      createInterface({ input: child.stderr }).on('line', (line) => logs.push(line));
      const poll = (): void => {
        ready().then(
          (yes) => {
            if (!yes) return void setTimeout(poll, 100);
            clearTimeout(timer);
            resolve();
          },
          () => setTimeout(poll, 100),
        );
      };
      poll();
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code}) before running: ${logs.slice(-5).join('\n')}`));
      });
    });
    await running;
    return new ChildWorker(child, exited, logs);
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}
