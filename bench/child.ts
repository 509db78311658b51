/** A forked child with an IPC channel, and waiting for its next message of a given type. */
import { type ChildProcess, fork } from 'node:child_process';

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export class Child {
  readonly proc: ChildProcess;
  private readonly inbox: ChildMessage[] = [];
  private waiters: { type: string; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }[] = [];
  exited: number | null | undefined;

  constructor(script: string, arg: unknown, opts: { execArgv?: string[]; env?: NodeJS.ProcessEnv; stderrFd?: number | 'inherit' | 'ignore' } = {}) {
    this.proc = fork(script, [JSON.stringify(arg)], {
      execArgv: opts.execArgv ?? [],
      env: opts.env ?? process.env,
      stdio: ['ignore', 'inherit', opts.stderrFd ?? 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: ChildMessage) => {
      if (m.type === 'error') {
        for (const w of this.waiters.splice(0)) w.reject(new Error(`child ${script}: ${String(m.message)}`));
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === m.type);
      const w = i >= 0 ? this.waiters.splice(i, 1)[0] : undefined;
      if (w) w.resolve(m);
      else this.inbox.push(m);
    });
    this.proc.on('exit', (code) => {
      this.exited = code;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`child ${script} exited (${code}) while waiting for "${w.type}"`));
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  send(m: unknown): void {
    this.proc.send(m as never);
  }

  next(type: string, timeoutMs = 60_000): Promise<ChildMessage> {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as ChildMessage);
    if (this.exited !== undefined) return Promise.reject(new Error(`child exited (${this.exited})`));
    return new Promise<ChildMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== entry);
        reject(new Error(`no "${type}" from child within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        type,
        resolve: (m: ChildMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(entry);
    });
  }

  /** Ask it to stop (message), then wait for exit; kill it (by pid) if it does not go. */
  async stop(cmd: unknown, timeoutMs = 20_000): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    try {
      this.send(cmd);
    } catch {
      // IPC already closed
    }
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(t);
  }
}
