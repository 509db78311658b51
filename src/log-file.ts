/**
 * The worker's log file (`--log-file`): lines appended with synchronous
 * writes (they come batched, once per turn of the event loop, from
 * TurnBatchedStream), and reopened by path on SIGHUP, so that logrotate can
 * rename the file away and the worker goes on in a new one (oslo.log's
 * WatchedFileHandler does the same for nova-compute).
 *
 * A write that fails (disk full, the directory gone) is dropped and counted,
 * never thrown: losing log lines must not stop the worker; the next reopen
 * tries again.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { ConfigError } from './errors';

/** Its directory must exist (as oslo.log's log_dir must): a typo is refused rather than a tree created. */
const open = (path: string): number => openSync(path, 'a', 0o640);

export class LogFile extends Writable {
  private fd: number | undefined;
  /** Writes dropped since the file was (re)opened. */
  dropped = 0;

  /** Opens (creating) the file for appending; a ConfigError names the file if it cannot. */
  constructor(readonly path: string) {
    super({ decodeStrings: false });
    try {
      this.fd = open(path);
    } catch (err) {
      throw new ConfigError(`log file ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    LogFile.all.add(this);
  }

  /** Every open log file of the process, for SIGHUP. */
  static readonly all = new Set<LogFile>();

  /** Close and open the path again (after logrotate moved it); false, keeping the old file, if it cannot. */
  reopen(): boolean {
    let fd: number;
    try {
      fd = open(this.path);
    } catch {
      return false;
    }
    const old = this.fd;
    this.fd = fd;
    this.dropped = 0;
    if (old !== undefined) closeSync(old);
    return true;
  }

  override _write(chunk: unknown, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : String(chunk);
    try {
      if (this.fd !== undefined) writeSync(this.fd, text);
    } catch {
      this.dropped++;
    }
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    LogFile.all.delete(this);
    done();
  }
}

/** SIGHUP: reopen every log file; returns the paths that could not be reopened. */
export function reopenLogFiles(): string[] {
  return [...LogFile.all].filter((f) => !f.reopen()).map((f) => f.path);
}
