/**
 * Logs through winston: JSON lines by default, readable on a TTY (coloured
 * unless NO_COLOR is set), to stderr or a file (`--log-file`, reopened on
 * SIGHUP). Lines about an intent carry its ids, issuer and instance (use
 * `forIntent`). Secrets never reach a transport: the redaction format runs
 * before any output format.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import { printable } from './limits/terminal-text';
import { LogFile } from './log-file';

export type Logger = winston.Logger;

/** Keys whose values are secrets wherever they appear (connection_info auth, context tokens, passwords). */
const SECRET_KEY = /(pass(word|wd)?$|secret|token|credential|keyring|^key$|auth_key|private_key|auth_password|_password$)/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 12 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '***' : redact(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '***' : redact(info[key]);
  }
  return info;
});

/**
 * Lines bound for a stream, handed to it once per turn of the event loop.
 *
 * Why: Node writes stderr synchronously when it is a file or a pipe (what
 * systemd and the bench give a worker), one syscall per line; at a line per
 * intent that was ~3 % of the worker's CPU in `npm run bench`. A line waits
 * at most one turn, and whatever is pending at exit is written then (an exit
 * handler may only do synchronous work, and these writes are synchronous).
 */
export class TurnBatchedStream extends Writable {
  private pending: string[] = [];
  private scheduled = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.target.write(text);
  };

  constructor(private readonly target: NodeJS.WritableStream) {
    super({ decodeStrings: false });
    process.once('exit', this.flushNow);
  }

  override _write(chunk: unknown, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.pending.push(typeof chunk === 'string' ? chunk : String(chunk));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.flushNow();
    process.removeListener('exit', this.flushNow);
    done();
  }
}

/** winston's finished line (triple-beam's MESSAGE). */
const LINE = Symbol.for('message');

/**
 * JSON escapes C0 controls but not DEL, C1 or the bidi and separator
 * characters; a JSON line shown by journalctl or `tail` on a TTY would pass
 * them to the terminal. Escaped as JSON spells them: the same JSON.
 */
const printableLine = winston.format((info) => {
  const line: unknown = Reflect.get(info, LINE);
  if (typeof line === 'string') Reflect.set(info, LINE, printable(line));
  return info;
});

let stderrLines: TurnBatchedStream | undefined;

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty' | 'auto';
  /** Where lines go (default stderr); ignored when `file` is given. */
  stream?: NodeJS.WritableStream;
  /** Append to this file (log-file.ts: reopened on SIGHUP) instead of the stream. */
  file?: string | undefined;
  /** Default: process.env (NO_COLOR). */
  env?: NodeJS.ProcessEnv;
}

/** no-color.org: colours are off when NO_COLOR is set to anything but "". */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.NO_COLOR ?? '') === '';
}

/** The level a worker logs at: --debug wins over --log-level (oslo.log's debug). */
export function levelOf(config: { logLevel: string; debug: boolean }): string {
  return config.debug ? 'debug' : config.logLevel;
}

export function createLogger(opts: LoggerOptions): Logger {
  const file = opts.file ? new TurnBatchedStream(new LogFile(opts.file)) : undefined;
  const target = file ? undefined : (opts.stream ?? process.stderr);
  const tty = target !== undefined && 'isTTY' in target && target.isTTY === true;
  // One batcher for stderr however many loggers a process makes (tests and the scale bench make many).
  if (!file && !opts.stream && !stderrLines) stderrLines = new TurnBatchedStream(process.stderr);
  const stream = file ?? opts.stream ?? stderrLines ?? process.stderr;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && tty);
  const color = tty && colorAllowed(opts.env);
  const output = pretty
    ? winston.format.combine(
        ...(color ? [winston.format.colorize()] : []),
        winston.format.printf((info) => {
          const { level, message, timestamp, ...rest } = info;
          const meta = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
          // Messages and fields carry text from messages: one line per entry, no escape sequences (limits/terminal-text.ts).
          return `${String(timestamp)} ${level} ${printable(`${String(message)}${meta}`)}`;
        }),
      )
    : winston.format.combine(winston.format.json(), printableLine());
  return winston.createLogger({
    level: opts.level,
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), output),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** What every line about an intent names (oslo.log's context: request ids, the instance). */
export interface IntentLogFields {
  intent_id: string;
  request_id?: string | undefined;
  global_request_id?: string | undefined;
  issuer?: string | undefined;
  instance_uuid?: string | undefined;
  kind?: string | undefined;
}

/**
 * A child logger whose every line names the intent, its request (request_id,
 * global_request_id), its issuer and its instance; `host` comes from the
 * worker's own logger. Absent facts are null, so every intent line has the
 * same keys.
 */
export function forIntent(log: Logger, f: IntentLogFields): Logger {
  return log.child({
    intent_id: f.intent_id, request_id: f.request_id ?? null, global_request_id: f.global_request_id ?? null,
    issuer: f.issuer ?? null, instance_uuid: f.instance_uuid ?? null, ...(f.kind ? { kind: f.kind } : {}),
  });
}
