/**
 * Filesystem calls on paths a message named (a disk image, a volume, a
 * console log), bounded in time and kept off libuv's thread pool.
 *
 * Why not fs.promises: each of its calls holds one of libuv's few pool
 * threads until the kernel returns, and the worker's libvirt calls and
 * libvirt's event loop need the same threads (ffi.ts). An open() of a FIFO
 * waits for a writer for ever; a stat() on a hung NFS mount waits for the
 * server. A handful of such messages took every pool thread and, through the
 * spawns stuck in them, every build slot.
 *
 * Contract:
 * - each call runs synchronously on a small thread of its own
 *   (host-fs-thread.ts, at most MAX_THREADS at once, kept while busy and for
 *   IDLE_MS after); nothing else waits behind a slow one;
 * - a call that has not answered after `timeoutMs` fails PATH_TIMEOUT naming
 *   the path; its thread is abandoned (terminated once the kernel lets go)
 *   and no longer counted as available. While MAX_STUCK threads are still
 *   stuck, further calls fail PATH_TIMEOUT at once instead of stranding
 *   another thread: the cost of a hung mount stays bounded;
 * - only regular files are ever opened, with O_NONBLOCK and O_NOFOLLOW, after
 *   fstat says regular.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { IntentFailure } from '../errors';

export type PathKind = 'file' | 'block' | 'directory' | 'char' | 'fifo' | 'socket' | 'other' | 'missing' | 'dangling';

/** What a path is, as the kernel resolves it. */
export interface Probe {
  /** Symlinks resolved; for a missing path, its deepest existing ancestor resolved plus the rest. */
  real: string;
  kind: PathKind;
  /** Bytes, for a regular file or a block device whose size sysfs tells. */
  size?: number;
  /** A block device the host itself uses (mounted, swap, held by LVM/dm): why. */
  inUse?: string | undefined;
  /** The roots asked about, each resolved (as given when it does not exist). */
  rootsReal: string[];
}

export type FsRequest =
  | { id: number; op: 'probe'; path: string; roots: string[] }
  | { id: number; op: 'read'; path: string; at: number; max: number };

export type FsReply =
  | { id: number; ok: true; probe?: Probe; data?: Uint8Array | undefined }
  | { id: number; ok: false; code: string; message: string };

/** A request before it is numbered (Omit over each member of the union). */
type Request = FsRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

const MAX_THREADS = 2;
const MAX_STUCK = 8;
const IDLE_MS = 10_000;
const THREAD_SCRIPT = path.join(__dirname, 'host-fs-thread.js');

interface Thread {
  worker: Worker;
  idleTimer?: NodeJS.Timeout | undefined;
}

interface Pending {
  req: Request;
  resolve: (r: FsReply & { ok: true }) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  thread?: Thread | undefined;
  /** Removes this call's listeners from its thread. */
  detach?: (() => void) | undefined;
  id: number;
}

export class HostFs {
  private readonly idle: Thread[] = [];
  private busy = 0;
  private stuck = 0;
  private nextId = 1;
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(private readonly timeoutMs: number) {}

  /** What `p` is (see Probe), with `roots` resolved alongside. */
  async probe(p: string, roots: string[]): Promise<Probe> {
    const r = await this.run({ op: 'probe', path: p, roots });
    if (!r.probe) throw new IntentFailure('INTERNAL', `no answer for ${p}`);
    return r.probe;
  }

  /** Up to `max` bytes of the regular file `p` from byte `at` (negative: from the end); undefined if it does not exist. */
  async read(p: string, at: number, max: number): Promise<Buffer | undefined> {
    const r = await this.run({ op: 'read', path: p, at, max });
    return r.data === undefined ? undefined : Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  }

  /** Threads are let go; calls in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) this.fail(p, new IntentFailure('INTERNAL', 'host filesystem checks are closed'));
    await Promise.all(this.idle.splice(0).map((t) => this.retire(t)));
  }

  private run(req: Request): Promise<FsReply & { ok: true }> {
    if (this.closed) return Promise.reject(new IntentFailure('INTERNAL', 'host filesystem checks are closed'));
    if (this.stuck >= MAX_STUCK) {
      return Promise.reject(
        new IntentFailure('PATH_TIMEOUT', `${req.path}: not checked, ${this.stuck} earlier filesystem calls have not returned (a hung mount?)`, { path: req.path }),
      );
    }
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const p: Pending = {
        req, resolve, reject, id,
        timer: setTimeout(() => this.timedOut(p), this.timeoutMs),
      };
      this.queue.push(p);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const thread = this.idle.pop() ?? (this.busy < MAX_THREADS ? this.spawn() : undefined);
      if (!thread) return;
      const p = this.queue.shift();
      if (!p) return;
      if (thread.idleTimer) clearTimeout(thread.idleTimer);
      this.busy++;
      p.thread = thread;
      const onReply = (reply: FsReply) => {
        if (reply.id !== p.id) return;
        detach();
        clearTimeout(p.timer);
        this.busy--;
        this.park(thread);
        if (reply.ok) p.resolve(reply);
        else p.reject(this.translate(p.req.path, reply));
        this.pump();
      };
      // The thread itself died (it could not load, or ran out of memory): this call fails, the thread is gone.
      const onDeath = (err?: unknown) => {
        detach();
        clearTimeout(p.timer);
        this.busy--;
        this.fail(p, new IntentFailure('INTERNAL', `${p.req.path}: the filesystem thread ended (${err instanceof Error ? err.message : 'exit'})`, { path: p.req.path }));
        this.pump();
      };
      const detach = () => {
        thread.worker.off('message', onReply);
        thread.worker.off('error', onDeath);
        thread.worker.off('exit', onDeath);
      };
      p.detach = detach;
      thread.worker.on('message', onReply);
      thread.worker.once('error', onDeath);
      thread.worker.once('exit', onDeath);
      thread.worker.postMessage({ ...p.req, id: p.id });
    }
  }

  private spawn(): Thread {
    const worker = new Worker(THREAD_SCRIPT);
    // An idle or stuck thread never keeps the process alive.
    worker.unref();
    const t: Thread = { worker };
    // An idle thread that dies is forgotten (a busy one fails its call: pump).
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      const i = this.idle.indexOf(t);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return t;
  }

  private park(t: Thread): void {
    if (this.closed) {
      void this.retire(t);
      return;
    }
    this.idle.push(t);
    t.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(t);
      if (i >= 0) {
        this.idle.splice(i, 1);
        void this.retire(t);
      }
    }, IDLE_MS).unref();
  }

  private timedOut(p: Pending): void {
    const queued = this.queue.indexOf(p);
    if (queued >= 0) this.queue.splice(queued, 1);
    const t = p.thread;
    if (t) {
      // Its thread is somewhere in the kernel: abandon it, count it until it exits.
      this.busy--;
      this.stuck++;
      p.detach?.();
      t.worker.once('exit', () => {
        this.stuck--;
      });
      void t.worker.terminate().catch(() => undefined);
    }
    const where = t ? 'did not return' : 'waited for a free thread';
    this.fail(p, new IntentFailure('PATH_TIMEOUT', `${p.req.path}: the filesystem ${where} within ${this.timeoutMs} ms (a hung mount?)`, { path: p.req.path, timeout_ms: this.timeoutMs }));
    this.pump();
  }

  private fail(p: Pending, err: Error): void {
    clearTimeout(p.timer);
    p.reject(err);
  }

  private async retire(t: Thread): Promise<void> {
    if (t.idleTimer) clearTimeout(t.idleTimer);
    await t.worker.terminate().catch(() => undefined);
  }

  private translate(p: string, reply: FsReply & { ok: false }): IntentFailure {
    if (reply.code === 'ENOTREG') return new IntentFailure('PATH_NOT_ALLOWED', `${p} is not a regular file`, { path: p });
    return new IntentFailure('PATH_NOT_ALLOWED', `${p}: ${reply.message}`, { path: p, errno: reply.code });
  }
}
