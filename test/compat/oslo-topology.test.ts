/**
 * Does hostwall declare exactly what a real oslo.messaging 14 declares?
 *
 * For each queue mode, the real library (Debian's /usr/bin/python3) runs in
 * one fresh vhost and hostwall's transport declares its topology in another;
 * `rabbitmqctl list_exchanges/list_queues/list_bindings` of both are compared
 * on name, type, durable, auto_delete, exclusive, internal and arguments (with
 * their AMQP field types), ignoring only the random uuid4 suffix of fanout and
 * reply queue names. Both vhosts are deleted afterwards.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { z } from 'zod';
import {
  mergeTopologies, notificationTopology, type OsloQueueOptions, replyQueueTopology, rpcServerTopology,
} from '../../src/oslo/topology';
import { type Amqp091Transport, createAmqp091Transport } from '../../src/transport/amqp091';
import { TransportError } from '../../src/errors';
import type { Topology } from '../../src/transport/transport';
import { AMQP_URL, addVhost, deleteVhost, RABBITMQCTL, rabbitmqctl, uid, urlWithVhost } from '../support/broker';

const PY = '/usr/bin/python3';
const PEER = join(__dirname, '..', '..', '..', 'test', 'compat', 'py', 'oslo_topology_peer.py');

/** rabbitmqctl --formatter json gives arguments as [key, amqp type, value] triples. */
const Args = z.array(z.tuple([z.string(), z.string(), z.unknown()]));
const ExchangeRow = z.object({ name: z.string(), type: z.string(), durable: z.boolean(), auto_delete: z.boolean(), internal: z.boolean(), arguments: Args });
// Quorum queues report exclusive as "" (they cannot be exclusive): read it as false.
const QueueRow = z.object({ name: z.string(), type: z.string(), durable: z.boolean(), auto_delete: z.boolean(), exclusive: z.union([z.boolean(), z.literal('')]), arguments: Args });
const BindingRow = z.object({ source_name: z.string(), destination_name: z.string(), destination_kind: z.string(), routing_key: z.string(), arguments: Args });

/** The random part of per-process names is the only thing allowed to differ. */
const stable = (name: string): string => name.replace(/_fanout_[0-9a-f]{32}$/, '_fanout_<uuid4hex>').replace(/^reply_[0-9a-f]{32}$/, 'reply_<uuid4hex>');
const args = (a: z.infer<typeof Args>): string[] => a.map(([k, type, v]) => `${k}:${type}=${JSON.stringify(v)}`).sort();
const byJson = <T>(xs: T[]): T[] => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

interface Snapshot {
  exchanges: unknown[];
  queues: unknown[];
  bindings: unknown[];
}

async function snapshot(vhost: string): Promise<Snapshot> {
  const [x, q, b] = await Promise.all([
    rabbitmqctl('list_exchanges', '-p', vhost, 'name', 'type', 'durable', 'auto_delete', 'internal', 'arguments', '--formatter', 'json'),
    rabbitmqctl('list_queues', '-p', vhost, 'name', 'type', 'durable', 'auto_delete', 'exclusive', 'arguments', '--formatter', 'json'),
    rabbitmqctl('list_bindings', '-p', vhost, 'source_name', 'destination_name', 'destination_kind', 'routing_key', 'arguments', '--formatter', 'json'),
  ]);
  return {
    exchanges: byJson(
      z.array(ExchangeRow).parse(JSON.parse(x))
        .filter((e) => e.name !== '' && !e.name.startsWith('amq.'))
        .map((e) => ({ ...e, name: stable(e.name), arguments: args(e.arguments) })),
    ),
    queues: byJson(
      z.array(QueueRow).parse(JSON.parse(q)).map((r) => ({ ...r, name: stable(r.name), exclusive: r.exclusive === true, arguments: args(r.arguments) })),
    ),
    bindings: byJson(
      z.array(BindingRow).parse(JSON.parse(b)).map((r) => ({
        ...r, destination_name: stable(r.destination_name), routing_key: stable(r.routing_key), arguments: args(r.arguments),
      })),
    ),
  };
}

async function withVhost<T>(prefix: string, fn: (vhost: string) => Promise<T>): Promise<T> {
  const vhost = `${prefix}_${uid()}`;
  await addVhost(vhost);
  try {
    return await fn(vhost);
  } finally {
    await deleteVhost(vhost);
  }
}

/** Start a role of the real-oslo peer; resolves once it printed its first JSON line. */
async function startPeer(env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; stop(): Promise<void> }> {
  const child = spawn(PY, [PEER], { env: { ...process.env, AMQP_URL, PYTHONUNBUFFERED: '1', ...env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`oslo peer silent for 30 s: ${stderr.slice(-2000)}`)), 30000);
    lines.once('line', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oslo peer exited (${code}) before it was ready: ${stderr.slice(-2000)}`));
    });
  });
  await first;
  return {
    child,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** hostwall's side: the real transport connected to `vhost`, closed afterwards. */
async function withTransport<T>(vhost: string, fn: (t: Amqp091Transport) => Promise<T>): Promise<T> {
  const t = createAmqp091Transport({ url: urlWithVhost(AMQP_URL, vhost) });
  await t.start();
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

/** Declare with the real transport and snapshot while it is connected. */
function hostwallSnapshot(vhost: string, topology: Topology): Promise<Snapshot> {
  return withTransport(vhost, async (t) => {
    await t.declare(topology);
    return snapshot(vhost);
  });
}

const MODES: { mode: string; rabbitOpts: string; options: OsloQueueOptions }[] = [
  { mode: 'transient (oslo defaults)', rabbitOpts: '', options: { queues: 'transient' } },
  { mode: 'durable (amqp_durable_queues=true)', rabbitOpts: 'amqp_durable_queues=true', options: { queues: 'durable' } },
  { mode: 'quorum (rabbit_quorum_queue=true)', rabbitOpts: 'rabbit_quorum_queue=true', options: { queues: 'quorum' } },
  {
    mode: 'quorum with rabbit_quorum_delivery_limit=5',
    rabbitOpts: 'rabbit_quorum_queue=true,rabbit_quorum_delivery_limit=5',
    options: { queues: 'quorum', quorumDeliveryLimit: 5 },
  },
];

(existsSync(PY) && RABBITMQCTL ? describe : describe.skip)('oslo.messaging topology compatibility (real oslo.messaging 14)', function () {
  this.timeout(120000);

  for (const { mode, rabbitOpts, options } of MODES) {
    it(`declares what a real RPC server (topic compute, server host1, exchange nova) declares: ${mode}`, async () => {
      const env = { ROLE: 'rpc_server', RABBIT_OPTS: rabbitOpts, CONTROL_EXCHANGE: 'nova', TOPIC: 'compute', SERVER: 'host1' };
      const oslo = await withVhost('hw_compat_oslo', async (vhost) => {
        const peer = await startPeer({ ...env, VHOST: vhost });
        try {
          const snap = await snapshot(vhost);
          // Sharing the broker: hostwall as server host2 beside the real host1 is accepted (no 406).
          const host2 = rpcServerTopology({ controlExchange: 'nova', topic: 'compute', server: 'host2' }, options).topology;
          await withTransport(vhost, (t) => t.declare(host2));
          return snap;
        } finally {
          await peer.stop();
        }
      });
      const ours = await withVhost('hw_compat_hw', (vhost) =>
        hostwallSnapshot(vhost, rpcServerTopology({ controlExchange: 'nova', topic: 'compute', server: 'host1' }, options).topology),
      );
      expect(oslo.queues, 'the real server declared its three queues').to.have.length(3);
      expect(ours).to.deep.equal(oslo);
    });

    it(`declares the notification queues and reply queue like the real notifier and RPC client: ${mode}`, async () => {
      const base = { RABBIT_OPTS: rabbitOpts, CONTROL_EXCHANGE: 'nova' };
      const oslo = await withVhost('hw_compat_oslo', async (vhost) => {
        await (await startPeer({ ...base, VHOST: vhost, ROLE: 'notifier' })).stop();
        await (await startPeer({ ...base, VHOST: vhost, ROLE: 'reply' })).stop();
        return snapshot(vhost);
      });
      const topology = mergeTopologies(
        ...['notifications', 'versioned_notifications'].flatMap((topic) =>
          (['info', 'error'] as const).map((priority) => notificationTopology({ exchange: 'nova', topic, priority }, options)),
        ),
        replyQueueTopology(undefined, options),
      );
      const ours = await withVhost('hw_compat_hw', (vhost) => hostwallSnapshot(vhost, topology));
      expect(oslo.queues, 'four notification queues and one reply queue').to.have.length(5);
      expect(ours).to.deep.equal(oslo);
    });
  }

  it('explains the clash when hostwall is set to durable queues but the real oslo deployment uses the defaults', async () => {
    await withVhost('hw_compat_clash', async (vhost) => {
      const peer = await startPeer({ ROLE: 'rpc_server', RABBIT_OPTS: '', CONTROL_EXCHANGE: 'nova', VHOST: vhost });
      try {
        const durable = rpcServerTopology({ controlExchange: 'nova', topic: 'compute', server: 'host2' }, { queues: 'durable' }).topology;
        const err = await withTransport(vhost, (t) => t.declare(durable)).then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(TransportError);
        // The control exchange is declared first: its durable flag is the first clash.
        expect(String((err as Error).message)).to.contain('exchange "nova"').and.contain('"durable"');
        const queueOnly = { exchanges: [], queues: durable.queues.slice(0, 1), bindings: [] };
        const err2 = await withTransport(vhost, (t) => t.declare(queueOnly)).then(() => undefined, (e: unknown) => e);
        expect(String((err2 as Error).message)).to.contain('queue "compute"').and.contain("is 'false' on the broker");
      } finally {
        await peer.stop();
      }
    });
  });
});
