/**
 * One AMQP 0-9-1 connection kept alive (the loop, failover and backoff are
 * ../kept-connection.ts). Channels belong to one connection and die with it;
 * the components that own them (publisher, consumer groups) are told through
 * `onUp` and rebuild their channels and topology there, so nothing survives a
 * reconnect by accident.
 */
import * as amqp from 'amqplib';
import { coalesceWrites, socketOf } from './coalesce';
import { KeptConnection, type Opened } from '../kept-connection';
import type { CompiledOptions, HostTarget } from './options';
import { errorText, withTimeout } from '../timing';

export type { ConnectionState } from '../kept-connection';

export interface ConnectionHooks {
  /** A new connection is up. Runs before waiters are released; should not throw (failures are logged). */
  onUp(model: amqp.ChannelModel): Promise<void>;
}

export class BrokerConnection extends KeptConnection<amqp.ChannelModel, HostTarget> {
  protected readonly logPrefix = 'amqp';
  protected readonly waitedFor = 'the broker connection';

  constructor(
    private readonly opts: CompiledOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    super({ ...opts, failover: opts.broker.failover, warnings: opts.broker.warnings, vhost: opts.broker.vhost });
  }

  protected async open(host: HostTarget): Promise<Opened<amqp.ChannelModel>> {
    const model = await withTimeout(
      amqp.connect(host.connect, this.opts.socket),
      this.opts.connectTimeoutMs + 1000,
      'AMQP connect',
      (late) => void late.close().catch(() => undefined),
    );
    const socket = socketOf(model.connection);
    if (socket) coalesceWrites(socket);
    else this.opts.log('debug', 'amqplib socket not found: frames are written one by one', { url: host.label });
    return this.watch(model);
  }

  /** Follow one connection: `lost` resolves with the error that closed it (or 'closed'). */
  private watch(model: amqp.ChannelModel): Opened<amqp.ChannelModel> {
    // Without an 'error' listener a heartbeat timeout would crash the process.
    model.on('error', (err: Error) => this.opts.log('warn', 'amqp connection error', { error: err.message }));
    model.on('blocked', (reason: string) =>
      this.opts.log('warn', 'broker blocked this connection (resource alarm): publishes stall until unblocked', { reason }),
    );
    model.on('unblocked', () => this.opts.log('info', 'broker unblocked this connection'));
    let open = true;
    const lost = new Promise<string>((resolve) =>
      model.once('close', (err?: Error) => {
        open = false;
        resolve(err ? errorText(err) : 'closed');
      }),
    );
    return { live: model, lost, isOpen: () => open };
  }

  protected logUp(host: HostTarget): void {
    this.opts.log('info', 'amqp connection up', {
      url: host.label, hosts: this.opts.hosts.length, connection_name: this.opts.connectionName, generation: this.generation,
    });
  }

  protected onUp(model: amqp.ChannelModel): Promise<void> {
    return this.hooks.onUp(model);
  }

  protected async abandon(model: amqp.ChannelModel): Promise<void> {
    await model.close().catch(() => undefined);
  }

  protected discard(model: amqp.ChannelModel): void {
    void model.close().catch(() => undefined);
  }

  /** Nothing to end: an amqplib connect cannot be cancelled, and one that opens late is closed in open() or abandon(). */
  protected abortAttempt(): void {}

  protected async closeLive(model: amqp.ChannelModel | undefined): Promise<void> {
    if (model) await withTimeout(model.close(), this.opts.operationTimeoutMs, 'closing the AMQP connection').catch(() => undefined);
  }

  protected cannotConnect(why: string): string {
    return `cannot connect to ${why}`;
  }
}
