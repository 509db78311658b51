/**
 * The private three-node cluster of scripts/rabbitmq-cluster.sh, as a test
 * drives it: URLs of each node and oslo's multi-host transport_url, stopping
 * and starting a node (its data kept, so it rejoins), pausing its Erlang VM
 * (SIGSTOP: it answers nothing, as if cut off) and asking the cluster which
 * node leads a queue and which node a queue's consumer is connected to.
 * The shared broker on 5672 is never involved.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', '..', '..', '..', 'scripts', 'rabbitmq-cluster.sh');
const BASE = '/var/tmp/hostwall-rmq-cluster';

export const NODES = ['hw1', 'hw2', 'hw3'] as const;
export type NodeName = (typeof NODES)[number];

export const portOf = (n: NodeName) => 5790 + NODES.indexOf(n) + 1;
export const nodeUrl = (n: NodeName) => `amqp://guest:guest@127.0.0.1:${portOf(n)}`;

/** oslo's transport_url naming every node, in this order (the worker tries them in order). */
export function transportUrl(order: readonly NodeName[], query = ''): string {
  return `rabbit://${order.map((n) => `guest:guest@127.0.0.1:${portOf(n)}`).join(',')}/${query !== '' ? `?${query}` : ''}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ctl(n: NodeName, args: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', '-n', `${n}@localhost`, ...args], { timeout: timeoutMs, maxBuffer: 50_000_000 });
  return stdout;
}

async function alive(n: NodeName): Promise<boolean> {
  try {
    await ctl(n, ['ping'], 5000);
    return true;
  } catch {
    return false;
  }
}

const nodeOfPort = (port: number): NodeName | undefined => NODES.find((n) => portOf(n) === port);

export class Cluster {
  /** Nodes this test stopped or paused and has not brought back. */
  private readonly away = new Set<NodeName>();

  /** Starts the nodes that are not running (idempotent). */
  async up(): Promise<void> {
    await run('bash', [SCRIPT, 'up'], { timeout: 300_000 });
  }

  private async someAlive(): Promise<NodeName> {
    for (const n of NODES) if (!this.away.has(n) && (await alive(n))) return n;
    throw new Error('no cluster node answers');
  }

  private async list(args: string[]): Promise<Record<string, unknown>[]> {
    const out = await ctl(await this.someAlive(), [...args, '--formatter', 'json']);
    return JSON.parse(out) as Record<string, unknown>[];
  }

  /** The node leading a quorum queue or stream (undefined while there is none). */
  async leaderOf(queue: string): Promise<NodeName | undefined> {
    const rows = await this.list(['list_queues', 'name', 'leader']);
    const row = rows.find((r) => r.name === queue);
    return NODES.find((n) => row?.leader === `${n}@localhost`);
  }

  /** A queue's type and the nodes holding a replica (quorum queues and streams; one node for a classic queue). */
  async queueInfo(queue: string): Promise<{ type: string; members: NodeName[] } | undefined> {
    const rows = await this.list(['list_queues', 'name', 'type', 'members']);
    const row = rows.find((r) => r.name === queue);
    if (!row) return undefined;
    const members = Array.isArray(row.members) ? row.members.map(String) : [];
    return { type: String(row.type), members: NODES.filter((n) => members.includes(`${n}@localhost`)) };
  }

  /** The nodes the connections whose name (client property connection_name) contains `name` are open on. */
  async connectionNodes(name: string): Promise<NodeName[]> {
    const rows = await this.list(['list_connections', 'port', 'client_properties']);
    return rows.filter((r) => JSON.stringify(r.client_properties ?? []).includes(name)).flatMap((r) => nodeOfPort(Number(r.port)) ?? []);
  }

  /** `rabbitmqctl stop`: the node's VM ends, every connection to it drops, its queue replicas go away. */
  async stop(n: NodeName): Promise<void> {
    this.away.add(n);
    await ctl(n, ['stop'], 60_000);
  }

  /** Start the node again with its data: it rejoins and its replicas catch up. */
  async start(n: NodeName): Promise<void> {
    await this.up();
    this.away.delete(n);
    await this.healthy();
  }

  private pid(n: NodeName): number {
    return Number(readFileSync(join(BASE, n, 'pid'), 'utf8').trim());
  }

  /** SIGSTOP of the node's VM: it keeps its sockets but answers nothing, to peers and clients alike. */
  pause(n: NodeName): void {
    this.away.add(n);
    process.kill(this.pid(n), 'SIGSTOP');
  }

  resume(n: NodeName): void {
    process.kill(this.pid(n), 'SIGCONT');
  }

  /**
   * stop_app + start_app of one node: how a partition that RabbitMQ recorded
   * but did not heal is cleared (RabbitMQ docs, "Recovering from a split-brain").
   */
  async restartApp(n: NodeName): Promise<void> {
    await ctl(n, ['stop_app'], 60_000);
    await ctl(n, ['start_app'], 120_000);
  }

  /** Every node running and seen running by each of the others (a partition healed). */
  async healthy(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await Promise.all(NODES.map(async (n) => {
        try {
          const s = JSON.parse(await ctl(n, ['cluster_status', '--formatter', 'json'], 10_000)) as { running_nodes?: string[]; partitions?: Record<string, unknown> };
          return (s.running_nodes ?? []).length === NODES.length && Object.keys(s.partitions ?? {}).length === 0;
        } catch {
          return false;
        }
      }));
      if (ok.every(Boolean)) {
        for (const n of NODES) this.away.delete(n);
        return;
      }
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${ok.map((v, i) => `${NODES[i]} ${v ? 'ok' : 'not'}`).join(', ')}`);
      await sleep(1000);
    }
  }

  /** The OS pids of the nodes' VMs (for CPU accounting). */
  pids(): number[] {
    return NODES.flatMap((n) => {
      try {
        return [this.pid(n)];
      } catch {
        return [];
      }
    });
  }

  /**
   * Per node: AMQP connections on it, queue replicas it holds (a classic
   * queue is one replica, a quorum queue or stream one per member), queues
   * it leads, and its memory (RSS, MB).
   */
  async perNode(): Promise<Record<NodeName, NodeFigures>> {
    const conns = await this.list(['list_connections', 'port']);
    // The text listing, not JSON: only its pids name their node ("<hw2@localhost.1.2.0>"), classic queues' included.
    const text = await ctl(await this.someAlive(), ['--no-table-headers', 'list_queues', 'name', 'pid', 'members'], 120_000);
    const queues = text.split('\n').filter((l) => l.trim() !== '').map((l) => {
      const [, pid = '', members = ''] = l.split('\t');
      const leader = NODES.find((n) => pid.startsWith(`<${n}@`));
      const held = NODES.filter((n) => members.includes(`${n}@localhost`));
      return { leader, held: held.length > 0 ? held : leader ? [leader] : [] };
    });
    const out = {} as Record<NodeName, NodeFigures>;
    for (const n of NODES) {
      let memoryMb = 0;
      const up = !this.away.has(n) && (await alive(n));
      if (up) {
        const s = JSON.parse(await ctl(n, ['status', '--formatter', 'json'])) as { memory?: { total?: { rss?: number; erlang?: number } } };
        memoryMb = Math.round((s.memory?.total?.rss ?? s.memory?.total?.erlang ?? 0) / 1048576);
      }
      out[n] = {
        up,
        connections: conns.filter((r) => nodeOfPort(Number(r.port)) === n).length,
        replicas: queues.filter((q) => q.held.includes(n)).length,
        leaders: queues.filter((q) => q.leader === n).length,
        memoryMb,
      };
    }
    return out;
  }
}

export interface NodeFigures {
  up: boolean;
  connections: number;
  replicas: number;
  leaders: number;
  memoryMb: number;
}
