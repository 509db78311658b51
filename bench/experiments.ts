/**
 * Opt-in experiments for the profile findings, applied inside a bench child
 * before it connects (never in src/): each one changes a dependency's
 * behaviour the way a proposed fix would, so its gain can be measured in the
 * same harness. Enabled by environment variables, so `npm run bench` with
 * HWBENCH_CORK=1 applies it to the baseline and the worker alike.
 *
 * - HWBENCH_CORK=1: amqplib's Mux writes every frame with its own
 *   socket.write() (one syscall per publish and per ack); this corks the
 *   socket for one pass of the Mux, so a pass becomes one writev().
 * - HWBENCH_TRACE_STORE=1 (measurement only, no change in behaviour): times
 *   every group commit of the intent store (src/store/write-batch.ts
 *   WriteBatch.flush), which runs synchronously on the event loop.
 * - HWBENCH_TRACE_LIBVIRT=1 (measurement only): counts libvirt calls by
 *   function (src/drivers/libvirt/connection.ts Connection.call: one libuv
 *   pool round trip each); with it, the milliseconds each function took on
 *   the JS thread (the inline test driver).
 * - HWBENCH_V8_FLAGS="--flag ...": V8 flags set at the child's start
 *   (v8.setFlagsFromString), for GC settings NODE_OPTIONS refuses.
 * - HWBENCH_HEAP_SNAPSHOT=file (measurement only): the worker child writes a
 *   heap snapshot at the end of the drain.
 * - HWBENCH_ALLOC_PROFILE=file (measurement only): V8's sampling heap
 *   profiler over the drain, objects collected by either GC included, written
 *   as a .heapprofile (JSON): where the allocation behind GC and the peak RSS
 *   comes from (bench/worker-child.ts).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';

interface MuxLike {
  out: Writable;
  _readIncoming(): void;
}

export function applyExperiments(): string[] {
  const on: string[] = [];
  const v8Flags = process.env.HWBENCH_V8_FLAGS;
  if (v8Flags) {
    for (const f of v8Flags.split(/\s+/).filter(Boolean)) setFlagsFromString(f);
    on.push(`v8:${v8Flags}`);
  }
  if (process.env.HWBENCH_CORK === '1') {
    const req = createRequire(__filename);
    // amqplib's "exports" hides lib/; the absolute path is the same module its connection.js loaded.
    const dir = path.dirname(req.resolve('amqplib'));
    const { Mux } = req(path.join(dir, 'lib', 'mux.js')) as { Mux: { prototype: MuxLike } };
    const original = Mux.prototype._readIncoming;
    Mux.prototype._readIncoming = function (this: MuxLike) {
      this.out.cork();
      try {
        original.call(this);
      } finally {
        this.out.uncork();
      }
    };
    on.push('cork');
  }
  if (process.env.HWBENCH_TRACE_STORE === '1') {
    const req = createRequire(__filename);
    try {
      const { WriteBatch } = req('../src/store/write-batch') as { WriteBatch: { prototype: { flush(): void; ops?: unknown[] } } };
      const original = WriteBatch.prototype.flush;
      WriteBatch.prototype.flush = function (this: { ops?: unknown[] }) {
        const ops = this.ops?.length ?? 0;
        const t0 = performance.now();
        original.call(this);
        if (ops > 0) storeFlushes.push([performance.now() - t0, ops]);
      };
      on.push('trace-store');
    } catch {
      // no intent store in this build
    }
  }
  if (process.env.HWBENCH_TRACE_LIBVIRT === '1') {
    const req = createRequire(__filename);
    try {
      const { Connection } = req('../src/drivers/libvirt/connection') as { Connection: { prototype: Record<string, unknown> } };
      const original = Connection.prototype.call as (this: unknown, name: string, ...rest: unknown[]) => unknown;
      Connection.prototype.call = function (this: unknown, name: string, ...rest: unknown[]) {
        libvirtCalls.set(name, (libvirtCalls.get(name) ?? 0) + 1);
        const t0 = performance.now();
        const r = original.call(this, name, ...rest);
        // Inline calls (the test driver) have run by now; pool calls count only their queuing.
        libvirtMs.set(name, (libvirtMs.get(name) ?? 0) + performance.now() - t0);
        return r;
      };
      on.push('trace-libvirt');
    } catch {
      // another driver layout
    }
  }
  return on;
}

/** libvirt calls by function name (HWBENCH_TRACE_LIBVIRT=1). */
export const libvirtCalls = new Map<string, number>();
/** Milliseconds spent in libvirt calls on the JS thread, by function name (HWBENCH_TRACE_LIBVIRT=1). */
export const libvirtMs = new Map<string, number>();

/** [duration ms, writes] of each intent-store group commit (HWBENCH_TRACE_STORE=1). */
export const storeFlushes: [number, number][] = [];

export function storeFlushStats(): Record<string, number> | undefined {
  if (storeFlushes.length === 0) return undefined;
  const d = storeFlushes.map((f) => f[0]).sort((a, b) => a - b);
  const w = storeFlushes.reduce((a, f) => a + f[1], 0);
  const at = (p: number) => Math.round((d[Math.min(d.length - 1, Math.ceil((p / 100) * d.length) - 1)] ?? 0) * 100) / 100;
  return {
    commits: d.length, writes: w, writes_per_commit: Math.round((10 * w) / d.length) / 10, total_ms: Math.round(d.reduce((a, b) => a + b, 0)),
    p50_ms: at(50), p99_ms: at(99), max_ms: at(100), us_per_write: Math.round((1000 * d.reduce((a, b) => a + b, 0)) / w),
  };
}
