/** A child process of the bench speaking JSON messages, and waiting for its next message of a given type. */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

/** The inbox and waiters both kinds of child share; `deliver` is fed by the transport (IPC or stdout lines). */
abstract class MessageChild {
  abstract readonly proc: ChildProcess;
  private readonly inbox: ChildMessage[] = [];
  private waiters: { type: string; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }[] = [];
  exited: number | null | undefined;

  constructor(protected readonly script: string) {}

  protected deliver(m: ChildMessage): void {
    if (m.type === 'error') {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`child ${this.script}: ${String(m.message)}`));
      return;
    }
    const i = this.waiters.findIndex((w) => w.type === m.type);
    const w = i >= 0 ? this.waiters.splice(i, 1)[0] : undefined;
    if (w) w.resolve(m);
    else this.inbox.push(m);
  }

  protected onExit(code: number | null, why = `exited (${code})`): void {
    this.exited = code;
    for (const w of this.waiters.splice(0)) w.reject(new Error(`child ${this.script} ${why} while waiting for "${w.type}"`));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  abstract send(m: unknown): void;

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
      // IPC or stdin already closed
    }
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(t);
  }
}

/** A forked node child with an IPC channel. */
export class Child extends MessageChild {
  readonly proc: ChildProcess;

  constructor(script: string, arg: unknown, opts: { execArgv?: string[]; env?: NodeJS.ProcessEnv; stderrFd?: number | 'inherit' | 'ignore' } = {}) {
    super(script);
    this.proc = fork(script, [JSON.stringify(arg)], {
      execArgv: opts.execArgv ?? [],
      env: opts.env ?? process.env,
      stdio: ['ignore', 'inherit', opts.stderrFd ?? 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: ChildMessage) => this.deliver(m));
    this.proc.on('exit', (code) => this.onExit(code));
  }

  send(m: unknown): void {
    this.proc.send(m as never);
  }
}

/** A program of another language (the Python peer): commands as JSON lines on its stdin, messages as JSON lines on its stdout. */
export class LineChild extends MessageChild {
  readonly proc: ChildProcess;

  constructor(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stderrFd?: number | 'inherit' | 'ignore' } = {}) {
    super(args[0] ?? cmd);
    this.proc = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', opts.stderrFd ?? 'inherit'] });
    if (this.proc.stdout) {
      createInterface({ input: this.proc.stdout }).on('line', (line) => {
        try {
          const m = JSON.parse(line) as ChildMessage;
          if (m && typeof m.type === 'string') this.deliver(m);
        } catch {
          // not one of its messages (a library printing to stdout)
        }
      });
    }
    this.proc.stdin?.on('error', () => undefined);
    this.proc.on('exit', (code) => this.onExit(code));
    // Not started at all (no such interpreter): 'exit' never comes.
    this.proc.on('error', (err) => this.onExit(-1, `could not start ${cmd}: ${err.message}`));
  }

  send(m: unknown): void {
    this.proc.stdin?.write(`${JSON.stringify(m)}\n`);
  }
}
