/**
 * Shared pieces of the benchmarks: run ids, oslo-encoded intents (encoded
 * once, with hostwall's own codec, so the baseline and the worker receive
 * byte-identical bodies), a raw confirm-channel publisher, the event
 * collector, percentiles, /proc readings and rabbitmqctl counts.
 *
 * Everything the benchmarks create on the broker carries the run id in its
 * name, so a run can delete exactly what it made.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Channel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { encodeRpcRequest } from '../src/oslo/rpc-request';
import { osloOutbound } from '../src/oslo/outbound';
import { publishProperties } from '../src/transport/amqp091/publisher';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export function runId(): string {
  return randomBytes(3).toString('hex');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An intent ready for the wire: where it goes, its body and AMQP properties, and its id. */
export interface Encoded {
  id: string;
  exchange: string;
  routingKey: string;
  body: Buffer;
  props: Options.Publish;
}

/** A request context about the size of the one Nova packs (keys as oslo.context writes them; no token). */
export function benchContext(i: number, requestId = `req-${randomUUID()}`): Record<string, unknown> {
  return {
    user_id: 'a6b5f8d1c2e34f0b9d7e6c5b4a392817',
    project_id: '0f4e3d2c1b0a49f8e7d6c5b4a3928170',
    domain_id: null,
    user_domain_id: 'default',
    project_domain_id: 'default',
    is_admin: false,
    read_only: false,
    show_deleted: false,
    request_id: requestId,
    global_request_id: null,
    resource_uuid: null,
    roles: ['member', 'reader'],
    user_name: 'bench',
    project_name: 'bench',
    remote_address: '127.0.0.1',
    timestamp: new Date(1_700_000_000_000 + i).toISOString(),
    quota_class: null,
    read_deleted: 'no',
  };
}

/**
 * One oslo RPC cast of an intent, as IntentClient.cast would publish it (without its per-call validation).
 * `peer`: for the Python peer, whose oslo RPC server keeps `_unique_id` to itself: the intent id is the
 * request id instead (a req-<uuid> as oslo.context makes), and the cast goes to `routingKey`.
 * `topic`: the RPC topic the worker serves (its server queue is `<topic>.<host>`).
 */
export function encodeCast(exchange: string, host: string, kind: string, args: Record<string, unknown>, seq: number, peer?: { routingKey: string }, topic = 'compute'): Encoded {
  const id = peer ? `req-${randomUUID()}` : `${kind.replace('instance.', '')}-${seq}-${randomBytes(6).toString('hex')}`;
  const enc = encodeRpcRequest({ method: kind, args, namespace: 'hostwall', version: '1.0', context: benchContext(seq, peer ? id : undefined), ...(peer ? {} : { uniqueId: id }) });
  const out = osloOutbound({ exchange, routingKey: peer?.routingKey ?? `${topic}.${host}`, message: enc.message });
  return { id, exchange: out.exchange, routingKey: out.routingKey, body: out.body, props: publishProperties(out) };
}

export const POWER_MIX = ['instance.power_off', 'instance.power_on', 'instance.reboot'] as const;

/** The i-th intent of the power mix over `uuids`: instance i mod n, kind cycling per instance. */
export function powerIntent(exchange: string, host: string, uuids: readonly string[], i: number, peer?: { routingKey: string }, topic?: string): Encoded {
  const n = uuids.length;
  const uuid = uuids[i % n] ?? '';
  const kind = POWER_MIX[Math.floor(i / n) % POWER_MIX.length] ?? 'instance.reboot';
  return encodeCast(exchange, host, kind, { instance_uuid: uuid }, i, peer, topic);
}

export function spawnIntent(exchange: string, host: string, uuid: string, seq: number, topic?: string): Encoded {
  return encodeCast(exchange, host, 'instance.spawn', { instance_uuid: uuid, name: `bench-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } }, seq, undefined, topic);
}

/** Publish on a confirm channel, respecting the socket's back-pressure. Returns when written, not confirmed. */
export async function publishRaw(ch: ConfirmChannel, m: Encoded, onConfirm?: (err: unknown) => void): Promise<void> {
  const ok = ch.publish(m.exchange, m.routingKey, m.body, m.props, onConfirm ?? (() => undefined));
  if (!ok) await new Promise<void>((r) => ch.once('drain', () => r()));
}

/** Publish everything and wait for every confirm. */
export async function preload(ch: ConfirmChannel, msgs: readonly Encoded[]): Promise<void> {
  for (const m of msgs) await publishRaw(ch, m);
  await ch.waitForConfirms();
}

export interface EventRecord {
  event: string;
  at: number;
  error?: string;
}

/**
 * Collects native events by intent id. `expect` sets how many a phase
 * waits for; `done` resolves when they all arrived (or rejects on timeout).
 */
export class EventCollector {
  readonly seen = new Map<string, EventRecord>();
  /** The first raw body of each event name per host (`<host> <event>`), for the same-messages baseline. */
  readonly samples = new Map<string, Buffer>();
  private want = new Set<string>();
  private waiter: { resolve: () => void; left: number } | undefined;
  foreign = 0;

  constructor(private readonly hostFilter?: (host: string) => boolean) {}

  onMessage = (m: ConsumeMessage | null): void => {
    if (!m) return;
    const at = performance.now();
    let ev: { event?: string; intent_id?: string | null; host?: string; error?: { code: string; message: string }; 'oslo.message'?: string };
    try {
      ev = JSON.parse(m.content.toString('utf8'));
      // The peer's events are oslo notifications: the event is the payload inside the envelope.
      if (typeof ev['oslo.message'] === 'string') ev = (JSON.parse(ev['oslo.message']) as { payload?: typeof ev }).payload ?? {};
    } catch {
      return;
    }
    if (this.hostFilter && !(typeof ev.host === 'string' && this.hostFilter(ev.host))) {
      this.foreign++;
      return;
    }
    const sampleKey = `${ev.host ?? ''} ${ev.event ?? ''}`;
    if (!this.samples.has(sampleKey)) this.samples.set(sampleKey, m.content);
    const id = ev.intent_id;
    if (!id || this.seen.has(id)) return;
    this.seen.set(id, { event: ev.event ?? '?', at, ...(ev.error ? { error: `${ev.error.code}: ${ev.error.message}` } : {}) });
    if (this.want.delete(id) && this.waiter) {
      this.waiter.left--;
      if (this.waiter.left === 0) this.waiter.resolve();
    }
  };

  /** Wait for an event of each id (ids seen already count); false if some are still missing after `timeoutMs`. */
  async waitFor(ids: Iterable<string>, timeoutMs: number): Promise<boolean> {
    this.want = new Set();
    for (const id of ids) if (!this.seen.has(id)) this.want.add(id);
    if (this.want.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        this.waiter = { resolve: () => resolve(true), left: this.want.size };
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
    } finally {
      if (timer) clearTimeout(timer);
      this.waiter = undefined;
    }
  }

  /** The latest arrival among these ids (performance.now() clock). */
  lastArrival(ids: Iterable<string>): number {
    let last = Number.NaN;
    for (const id of ids) {
      const at = this.seen.get(id)?.at;
      if (at !== undefined && !(at <= last)) last = at;
    }
    return last;
  }

  /** Outcomes of these ids: how many succeeded, and the first few failures. */
  tally(ids: Iterable<string>): { succeeded: number; failed: number; missing: number; firstErrors: string[] } {
    let succeeded = 0;
    let failed = 0;
    let missing = 0;
    const firstErrors: string[] = [];
    for (const id of ids) {
      const r = this.seen.get(id);
      if (!r) missing++;
      else if (r.event === 'intent.succeeded') succeeded++;
      else {
        failed++;
        if (firstErrors.length < 3) firstErrors.push(`${r.event} ${r.error ?? ''}`.trim());
      }
    }
    return { succeeded, failed, missing, firstErrors };
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export interface LatencyStats {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

export function latencyStats(values: number[]): LatencyStats {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    count: s.length,
    p50_ms: r(percentile(s, 50)),
    p90_ms: r(percentile(s, 90)),
    p99_ms: r(percentile(s, 99)),
    max_ms: r(s[s.length - 1] ?? Number.NaN),
    mean_ms: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

/** An open loop's latencies and what it achieved. */
export type Latency = LatencyStats & { offered_per_s: number; achieved_per_s: number; failed: number; missing: number };

/**
 * The latency of each paced message (`sentAt`, from paced()) to its outcome on the collector, and
 * the rate the loop achieved from `t0` to the last outcome; call once the outcomes were awaited.
 */
export function pacedLatency(c: EventCollector, msgs: readonly Encoded[], sentAt: ReadonlyMap<string, number>, t0: number, rate: number): Latency {
  const ids = msgs.map((m) => m.id);
  const lat: number[] = [];
  for (const m of msgs) {
    const at = c.seen.get(m.id)?.at;
    const s = sentAt.get(m.id);
    if (at !== undefined && s !== undefined) lat.push(at - s);
  }
  const t = c.tally(ids);
  const elapsed = (c.lastArrival(ids) - t0) / 1000;
  return { ...latencyStats(lat), offered_per_s: rate, achieved_per_s: Math.round((t.succeeded + t.failed) / elapsed), failed: t.failed, missing: t.missing };
}

/**
 * Publish `msgs` at `rate` per second (open loop: the schedule does not wait
 * for the consumer). Returns each id's publish time (performance.now()).
 */
export async function paced(ch: ConfirmChannel, msgs: readonly Encoded[], rate: number): Promise<Map<string, number>> {
  const sentAt = new Map<string, number>();
  const start = performance.now();
  let sent = 0;
  while (sent < msgs.length) {
    const due = Math.min(msgs.length, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    while (sent < due) {
      const m = msgs[sent++];
      if (!m) break;
      sentAt.set(m.id, performance.now());
      await publishRaw(ch, m);
    }
    // Sleep until the next message is due (timers have ~1 ms resolution).
    const nextAt = start + (sent * 1000) / rate;
    const wait = nextAt - performance.now();
    if (wait > 0.5) await sleep(Math.max(1, Math.floor(wait)));
    else await new Promise<void>((r) => setImmediate(r));
  }
  await ch.waitForConfirms();
  return sentAt;
}

/** VmRSS and VmHWM (peak) of a process, in MB, from /proc. */
export function procMemory(pid: number): { rss_mb: number; hwm_mb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { rss_mb: Math.round(kb('VmRSS') / 102.4) / 10, hwm_mb: Math.round(kb('VmHWM') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`.trim()));
      else resolve(stdout);
    });
  });
}

/** `-n <node>` for rabbitmqctl when a node is named (a cluster node), nothing for the local broker. */
const nodeArgs = (node?: string): string[] => (node !== undefined ? ['-n', node] : []);

/** Lines of a quiet rabbitmqctl listing (no headers); on a cluster node, the listing is the cluster's. */
export async function rabbitList(what: string, columns: string[], node?: string): Promise<string[][]> {
  const out = await run('rabbitmqctl', ['-q', ...nodeArgs(node), '--no-table-headers', what, ...columns]);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

/** The broker's socket and file-descriptor limits and its memory (rabbitmqctl status). */
export interface RabbitStatus {
  sockets_used: number;
  sockets_limit: number;
  fd_used: number;
  fd_limit: number;
  memory_mb: number;
  connection_memory_kb: number;
  /** rabbitmqctl status memory breakdown, bytes per category. */
  memory: Record<string, number>;
  version: string;
}

export async function rabbitStatus(node?: string): Promise<RabbitStatus> {
  const s = JSON.parse(await run('rabbitmqctl', ['-q', ...nodeArgs(node), 'status', '--formatter', 'json'])) as {
    file_descriptors?: { sockets_used?: number; sockets_limit?: number; total_used?: number; total_limit?: number };
    memory?: { total?: { rss?: number; erlang?: number; allocated?: number }; connection_readers?: number; connection_writers?: number; connection_channels?: number; connection_other?: number } & Record<string, unknown>;
    rabbitmq_version?: string;
  };
  const fd = s.file_descriptors ?? {};
  const mem = s.memory?.total ?? {};
  return {
    sockets_used: fd.sockets_used ?? Number.NaN,
    sockets_limit: fd.sockets_limit ?? Number.NaN,
    fd_used: fd.total_used ?? Number.NaN,
    fd_limit: fd.total_limit ?? Number.NaN,
    memory_mb: Math.round((mem.rss ?? mem.allocated ?? mem.erlang ?? Number.NaN) / 1048576),
    connection_memory_kb: Math.round(
      ((s.memory?.connection_readers ?? 0) + (s.memory?.connection_writers ?? 0) + (s.memory?.connection_channels ?? 0) + (s.memory?.connection_other ?? 0)) / 1024,
    ),
    memory: Object.fromEntries(Object.entries(s.memory ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number')),
    version: s.rabbitmq_version ?? '?',
  };
}

/** A queue's existence, without killing the caller's channel (a missing queue closes the channel it was checked on). */
export async function queueExists(conn: { createChannel(): Promise<Channel> }, name: string): Promise<boolean> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    await ch.checkQueue(name);
    await ch.close().catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

/** Delete queues, ignoring the ones already gone. `safe` names are shared: deleted only if empty and unused ('unused': only if unused). */
export async function deleteQueues(conn: { createChannel(): Promise<Channel> }, names: Iterable<string>, safe: boolean | 'unused' = false): Promise<number> {
  let deleted = 0;
  let ch = await conn.createChannel();
  ch.on('error', () => undefined);
  for (const name of names) {
    try {
      await ch.deleteQueue(name, safe === 'unused' ? { ifUnused: true } : safe ? { ifEmpty: true, ifUnused: true } : {});
      deleted++;
    } catch {
      // A refused delete (in use, not empty, 404) closes the channel: take another.
      ch = await conn.createChannel();
      ch.on('error', () => undefined);
    }
  }
  await ch.close().catch(() => undefined);
  return deleted;
}

export const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10;

/** Flags of the form --name value / --name=value / --flag, and repeated --set k=v. */
export function parseArgs(argv: string[]): { opts: Map<string, string>; sets: Record<string, string> } {
  const opts = new Map<string, string>();
  const sets: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let value = eq > 0 ? a.slice(eq + 1) : 'true';
    if (eq < 0 && i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('--')) value = argv[++i] ?? '';
    if (key === 'set') {
      const [k, ...v] = value.split('=');
      if (k) sets[k] = v.join('=');
    } else opts.set(key, value);
  }
  return { opts, sets };
}

/** CPU time (s) of the whole machine from /proc/stat: processes (user, nice, system), interrupts (irq, softirq: loopback TCP lands here), steal. */
function machineS(): { procs: number; irq: number; steal: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { procs: ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0)) / 100, irq: ((f[5] ?? 0) + (f[6] ?? 0)) / 100, steal: (f[7] ?? 0) / 100 };
}

function processBusyS(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export interface CpuUse {
  /** The bench's processes and the broker. */
  bench_and_broker_cores: number;
  /** Interrupt time (mostly the loopback TCP the bench itself causes). */
  irq_cores: number;
  /** Other processes on the machine: this spoils a run. */
  foreign_cores: number;
  /** Taken by the hypervisor for other guests: this spoils a run too. */
  steal_cores: number;
  /**
   * CPU seconds each metered process used in the phase, by pid. Unlike the
   * wall-clock figures these hardly change with other load on the machine:
   * divided by the phase's intents they are the cost per intent of each side
   * (the worker's, the broker's), the figure to compare between runs here.
   */
  cpu_s_by_pid: Record<string, number>;
}

/**
 * How much CPU the benchmark's own processes (and the broker) used in a
 * phase, and how much other processes did: on a shared 2-core machine,
 * foreign load makes a run's figures worthless, so it is reported with them.
 */
export class CpuMeter {
  private t0 = 0;
  private m0 = { procs: 0, irq: 0, steal: 0 };
  private p0 = new Map<number, number>();

  constructor(private readonly pids: () => number[]) {}

  start(): void {
    this.t0 = performance.now();
    this.m0 = machineS();
    this.p0 = new Map(this.pids().map((p) => [p, processBusyS(p)]));
  }

  stop(): CpuUse {
    const s = (performance.now() - this.t0) / 1000;
    const m = machineS();
    let ours = 0;
    const byPid: Record<string, number> = {};
    for (const [pid, before] of this.p0) {
      const used = processBusyS(pid) - before;
      byPid[String(pid)] = Math.round(used * 100) / 100;
      ours += used;
    }
    const r = (x: number) => Math.round((x / s) * 100) / 100;
    return {
      cpu_s_by_pid: byPid,
      bench_and_broker_cores: r(ours),
      irq_cores: r(m.irq - this.m0.irq),
      foreign_cores: r(Math.max(0, m.procs - this.m0.procs - ours)),
      steal_cores: r(m.steal - this.m0.steal),
    };
  }
}

/** The broker's OS pid (rabbitmqctl status), to count its CPU as the benchmark's. */
export async function brokerPid(): Promise<number | undefined> {
  try {
    const s = JSON.parse(await run('rabbitmqctl', ['-q', 'status', '--formatter', 'json'])) as { pid?: number | string };
    return s.pid === undefined ? undefined : Number(s.pid);
  } catch {
    return undefined;
  }
}

/**
 * The worker binds the shared `hostwall.journal` stream to the control
 * exchange (`<topic>.#`), so every intent is appended to it. A run replaces
 * that binding on its own exchange by one to a stream of its own: the broker
 * does the same work (one stream append per intent), and the run can delete
 * its stream afterwards instead of leaving ~30,000 bench intents in the
 * shared journal. Returns the stream's name.
 */
export async function divertJournal(conn: { createChannel(): Promise<Channel> }, exchange: string, stream: string, topic = 'compute'): Promise<string> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  try {
    await ch.assertQueue(stream, { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': 1_000_000_000 } });
    await ch.bindQueue(stream, exchange, `${topic}.#`);
    await ch.unbindQueue('hostwall.journal', exchange, `${topic}.#`);
  } finally {
    await ch.close().catch(() => undefined);
  }
  return stream;
}
