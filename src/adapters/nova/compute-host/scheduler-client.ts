/**
 * What a compute host tells the schedulers about its instances
 * (nova.scheduler.client.query / rpcapi 4.x, fanout casts to every
 * scheduler through `scheduler_fanout`): an instance now here, an instance
 * gone, and periodically the whole list. They keep the HostManager's view of
 * each host's instances current; losing one costs only accuracy until the
 * next periodic sync, so they are cast without waiting for anyone.
 */
import type { RpcCaller } from '../../../oslo/rpc-client';
import type { Topology, Transport } from '../../../transport/transport';
import type { NovaContext } from '../conductor/context';
import { type NovaPrimitive, primitive } from '../conductor/primitive';

const SCHEDULER_RPC_VERSION = '4.2';
const TARGET = { topic: 'scheduler', fanout: true } as const;

/** oslo declares a fanout exchange before casting to it (auto-delete, like the schedulers' own declaration). */
const FANOUT_TOPOLOGY: Topology = {
  exchanges: [{ name: 'scheduler_fanout', type: 'fanout', durable: false, autoDelete: true }],
  queues: [],
  bindings: [],
};

export class SchedulerClient {
  private declared: Promise<void> | undefined;

  constructor(
    private readonly rpc: RpcCaller,
    private readonly transport: Transport,
    private readonly host: string,
  ) {}

  updateInstanceInfo(context: NovaContext, instance: NovaPrimitive): Promise<void> {
    const list = primitive('InstanceList', { objects: [instance] }, ['objects']);
    return this.cast(context, 'update_instance_info', { host_name: this.host, instance_info: list });
  }

  deleteInstanceInfo(context: NovaContext, instanceUuid: string): Promise<void> {
    return this.cast(context, 'delete_instance_info', { host_name: this.host, instance_uuid: instanceUuid });
  }

  syncInstanceInfo(context: NovaContext, instanceUuids: string[]): Promise<void> {
    return this.cast(context, 'sync_instance_info', { host_name: this.host, instance_uuids: instanceUuids });
  }

  private async cast(context: NovaContext, method: string, args: Record<string, unknown>): Promise<void> {
    this.declared ??= this.transport.declare(FANOUT_TOPOLOGY).catch((err: unknown) => {
      this.declared = undefined;
      throw err;
    });
    await this.declared;
    await this.rpc.cast(TARGET, { method, args, version: SCHEDULER_RPC_VERSION, context });
  }
}
