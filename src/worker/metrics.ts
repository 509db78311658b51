/**
 * The worker's Prometheus metrics (prom-client), served at /metrics by
 * status-server.ts when `--http-address` is set.
 *
 * Cost on the hot path: per intent one counter increment and one histogram
 * observation, with label objects made once per kind (prom-client hashes
 * the labels it is given, it does not allocate them); per refusal one
 * increment. Everything else (in flight, the serializer's queue, the broker
 * connection, event retries, the store's size) is read when Prometheus
 * scrapes, from what the worker already keeps.
 *
 * Names follow Prometheus' conventions: a `hostwall_` prefix, `_total` for
 * counters, base units (seconds, bytes). Labels are bounded: `kind` is one of
 * the registry's intent kinds (a refused message is counted by its code, never
 * by the method it named), `outcome` and `code` are fixed sets.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DispatchMetrics, IntentEnd } from '../dispatch/ports';
import type { SerializerStats } from '../serializer/serializer';
import type { TransportHealth } from '../transport/transport';
import { VERSION } from '../version';

/** What the worker keeps that the metrics read at scrape time. */
export interface MetricSources {
  /** Messages received and not yet settled (Transport.inFlight). */
  inFlight(): number;
  serializer(): SerializerStats;
  transport(): TransportHealth | undefined;
  events(): { retries: number; givenUp: number };
  storeBytes(): number;
  /** Intents waiting for their turn or their ports (WaitWatch). */
  waiting(): number;
}

/** Seconds from a message's arrival to its intent's final, confirmed outcome: from a read's milliseconds to a spawn waiting minutes for its ports. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

type Labels = Record<IntentEnd, { kind: string; outcome: IntentEnd }> & { kind: { kind: string } };

export class WorkerMetrics implements DispatchMetrics {
  readonly registry = new Registry();
  private readonly intents: Counter<'kind' | 'outcome'>;
  private readonly durations: Histogram<'kind'>;
  private readonly deadLetters: Counter<'code'>;
  private readonly labels = new Map<string, Labels>();
  private defaults = false;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.intents = new Counter({ name: 'hostwall_intents_total', help: 'Intents whose outcome is final, by kind and outcome (succeeded, failed, or duplicate: answered from the intent store, not applied again)', labelNames: ['kind', 'outcome'], registers });
    this.durations = new Histogram({ name: 'hostwall_intent_duration_seconds', help: 'Seconds from an intent\'s message arriving to its outcome final and every event it caused confirmed by the broker (waiting for its lanes and ports included)', labelNames: ['kind'], buckets: DURATION_BUCKETS, registers });
    this.deadLetters = new Counter({ name: 'hostwall_dead_letters_total', help: 'Messages refused and dead-lettered to hostwall.dead.<host>, by reason code (INVALID_INTENT, UNKNOWN_KIND, POISON...)', labelNames: ['code'], registers });
    new Gauge({ name: 'hostwall_build_info', help: 'The running build (always 1)', labelNames: ['version'], registers }).set({ version: VERSION }, 1);
    new Gauge({ name: 'hostwall_messages_in_flight', help: 'Messages received and not yet acked or left for redelivery', registers, collect() { this.set(sources.inFlight()); } });
    new Gauge({ name: 'hostwall_serializer_running', help: 'Intents running in the serializer (holding their lanes)', registers, collect() { this.set(sources.serializer().running); } });
    new Gauge({ name: 'hostwall_serializer_queue_depth', help: 'Intents waiting in the serializer for their lanes or a free slot', registers, collect() { this.set(sources.serializer().waiting); } });
    new Gauge({ name: 'hostwall_serializer_lanes', help: 'Lock keys (instances, volumes, ports) with an intent running or waiting', registers, collect() { this.set(sources.serializer().lanes); } });
    new Gauge({ name: 'hostwall_intents_waiting', help: 'Intents waiting for their turn or for their ports\' port.ready', registers, collect() { this.set(sources.waiting()); } });
    new Gauge({ name: 'hostwall_broker_connected', help: '1 when the connection to the broker is up', registers, collect() { this.set(sources.transport()?.connected ? 1 : 0); } });
    new Gauge({ name: 'hostwall_consuming', help: '1 when every consumer of the worker\'s queues is attached', registers, collect() { this.set(sources.transport()?.consuming ? 1 : 0); } });
    total('hostwall_broker_reconnects_total', 'Connections to the broker made after the first (reconnects and failovers)', () => sources.transport()?.reconnects ?? 0, registers);
    total('hostwall_event_publish_retries_total', 'Events and notifications published again because the broker did not confirm them', () => sources.events().retries, registers);
    total('hostwall_event_publish_failures_total', 'Events and notifications given up on after --event-retry (their intent was left for redelivery)', () => sources.events().givenUp, registers);
    new Gauge({ name: 'hostwall_intent_store_bytes', help: 'Bytes of the local intent store on disk (SQLite pages and write-ahead log)', registers, collect() { this.set(sources.storeBytes()); } });
  }

  intentDone(kind: string, end: IntentEnd, seconds: number): void {
    const l = this.labels.get(kind) ?? this.labelsOf(kind);
    this.intents.inc(l[end]);
    this.durations.observe(l.kind, seconds);
  }

  deadLettered(code: string): void {
    this.deadLetters.inc({ code });
  }

  /** Node's process metrics (CPU, memory, event-loop lag, GC) too: only when /metrics is served, as they sample in the background. */
  withProcessMetrics(): this {
    if (!this.defaults) collectDefaultMetrics({ register: this.registry });
    this.defaults = true;
    return this;
  }

  /** The text Prometheus scrapes. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private labelsOf(kind: string): Labels {
    const l: Labels = {
      kind: { kind },
      succeeded: { kind, outcome: 'succeeded' },
      failed: { kind, outcome: 'failed' },
      duplicate: { kind, outcome: 'duplicate' },
    };
    this.labels.set(kind, l);
    return l;
  }
}

/** A counter whose total the worker already keeps: read at scrape time. */
function total(name: string, help: string, read: () => number, registers: Registry[]): void {
  new Counter({
    name, help, registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
