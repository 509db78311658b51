/**
 * Topology for the AMQP 1.0 transport, declared over AMQP 0-9-1.
 *
 * RabbitMQ 3.x cannot create named queues with arguments, nor bindings, over
 * 1.0 (its address forms declare queues without arguments, or server-named
 * queues that leak), and 4.x only through its HTTP-over-AMQP management API.
 * So the RabbitMQ families declare through a 0-9-1 "admin" connection to the
 * same broker and vhost — the 0-9-1 transport itself, which explains refused
 * declarations and declares again after its own reconnects. The 1.0 transport
 * declares again after ITS reconnects too: an auto-delete queue goes with the
 * consumer of the 1.0 connection, not with the admin connection.
 *
 * The generic family (Artemis, routers) has no 0-9-1: its addresses are the
 * operator's, and declare() only says so, once.
 *
 * The same connection reads streams and drains queues for the tools
 * (`hostwall replay`, `inspect`): with the transport's TLS material and
 * deadlines, never a connection of their own.
 *
 * Exclusive queues: one declared by the admin connection would belong to it,
 * and the 1.0 connection could not consume it (405 RESOURCE_LOCKED). It is
 * declared non-exclusive and auto-delete instead (gone when its 1.0 consumer
 * goes, like an exclusive queue with its connection), with an x-expires so a
 * queue that never got a consumer goes too.
 */
import { TransportError } from '../../errors';
import { createAmqp091Transport, type Amqp091Transport } from '../amqp091';
import { errorText } from '../timing';
import { parseBrokerUrl } from '../broker-url';
import { claimQueue, claimQueueName, queueTaken } from '../claim';
import type { QueueState, Topology, Transport } from '../transport';
import type { CompiledOptions } from './options';

export function forAmqp10(t: Topology, exclusiveExpiresMs: number): Topology {
  return {
    ...t,
    queues: t.queues.map((q) =>
      q.exclusive
        ? { ...q, exclusive: false, autoDelete: true, arguments: { 'x-expires': exclusiveExpiresMs, ...(q.arguments ?? {}) } }
        : q,
    ),
  };
}

export class TopologyAdmin {
  private readonly admin: Amqp091Transport | undefined;
  /** Declared successfully once, so declared again after every 1.0 reconnect (in this order). */
  private readonly topologies = new Map<string, Topology>();
  private saidNotOurs = false;

  constructor(private readonly opts: CompiledOptions) {
    this.admin = opts.adminUrl
      ? createAmqp091Transport({
          url: opts.adminUrl,
          connectionName: `${opts.connectionName}:topology`,
          log: (level, msg, meta) => opts.log(level, `topology connection: ${msg}`, meta),
          operationTimeoutMs: opts.operationTimeoutMs,
          connectTimeoutMs: opts.connectTimeoutMs,
          startTimeoutMs: opts.startTimeoutMs,
          failFast: opts.failFast,
          ...(opts.tls !== undefined && parseBrokerUrl(opts.adminUrl).tls ? { tls: opts.tls } : {}),
          reconnectMinMs: opts.reconnectMinMs,
          reconnectMaxMs: opts.reconnectMaxMs,
        })
      : undefined;
  }

  /** Whether declare() reaches the broker (false: topology is the operator's). */
  get declares(): boolean {
    return this.admin !== undefined;
  }

  /** Looks at a queue over the 0-9-1 connection; undefined when there is none (generic family). */
  get queueInspector(): ((queue: string) => Promise<QueueState | undefined>) | undefined {
    const admin = this.admin;
    return admin ? (queue) => admin.inspectQueue(queue) : undefined;
  }

  /**
   * Reads a stream over the 0-9-1 connection (streams are RabbitMQ's: 3.x's
   * 1.0 plugin cannot give a stream offset); undefined for the generic family.
   */
  get streamReader(): Transport['readStream'] {
    const admin = this.admin;
    return admin ? (stream, from, o) => admin.readStream(stream, from, o) : undefined;
  }

  /** Drains a queue over the 0-9-1 connection (basic.get: 1.0 has no "count, then take what was counted"); undefined for the generic family. */
  get queueDrainer(): Transport['drainQueue'] {
    const admin = this.admin;
    return admin ? (queue) => admin.drainQueue(queue) : undefined;
  }

  async start(): Promise<void> {
    await this.admin?.start();
  }

  async declare(topology: Topology): Promise<void> {
    if (!this.admin) {
      if (!this.saidNotOurs) {
        this.saidNotOurs = true;
        this.opts.log('info', 'amqp10: topology is not declared by hostwall in this address mode; the operator provisions the addresses', {
          addresses: this.opts.family,
        });
      }
      return;
    }
    const mapped = forAmqp10(topology, this.opts.exclusiveQueueExpiresMs);
    const emulated = topology.queues.filter((q) => q.exclusive).map((q) => q.name);
    if (emulated.length > 0) {
      this.opts.log('debug', 'amqp10: exclusive queues declared auto-delete with x-expires (a 0-9-1-owned exclusive queue cannot be consumed over 1.0)', {
        queues: emulated,
      });
    }
    await this.admin.declare(mapped);
    this.topologies.set(JSON.stringify(mapped), mapped);
  }

  /**
   * Take a queue's claim (transport/claim.ts) on the admin connection; remembered by it, so
   * declared again when it reconnects. QueueTakenError when another connection holds it.
   */
  async claim(queue: string): Promise<void> {
    if (!this.admin) return;
    try {
      await this.admin.declare({ exchanges: [], queues: [claimQueue(queue)], bindings: [] });
    } catch (err) {
      const code = err instanceof TransportError ? err.details.amqp_code : undefined;
      if (code === 405) throw queueTaken(queue, `its claim queue ${claimQueueName(queue)} is held by another connection (405 RESOURCE_LOCKED)`);
      throw err;
    }
  }

  /** Declare every remembered topology again; a refusal is logged and does not stop the others. */
  async redeclareAll(): Promise<void> {
    if (!this.admin) return;
    for (const t of this.topologies.values()) {
      try {
        await this.admin.declare(t);
      } catch (err) {
        this.opts.log('error', 'declaring topology again failed', { error: errorText(err) });
      }
    }
  }

  async close(): Promise<void> {
    await this.admin?.close();
  }
}
