/**
 * A child's event-loop delay (1 ms resolution) and GC pauses over one phase:
 * what of a latency run's tail is the consumer's own stalls.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export interface LoopReport {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  gc: { pauses: number; total_ms: number; p99_ms: number; max_ms: number };
}

export class LoopMeter {
  private readonly delay = monitorEventLoopDelay({ resolution: 1 });
  private readonly pauses: number[] = [];
  private readonly gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.pauses.push(e.duration);
  });

  start(): void {
    this.delay.reset();
    this.delay.enable();
    this.pauses.length = 0;
    this.gc.observe({ entryTypes: ['gc'] });
  }

  stop(): LoopReport {
    this.delay.disable();
    this.gc.disconnect();
    const sorted = [...this.pauses].sort((a, b) => a - b);
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      p50_ms: ms(this.delay.percentile(50)), p99_ms: ms(this.delay.percentile(99)), max_ms: ms(this.delay.max),
      gc: { pauses: sorted.length, total_ms: Math.round(sorted.reduce((a, b) => a + b, 0)), p99_ms: r2(sorted[Math.floor(sorted.length * 0.99)] ?? 0), max_ms: r2(sorted.at(-1) ?? 0) },
    };
  }
}
