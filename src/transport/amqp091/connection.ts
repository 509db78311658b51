/**
 * One AMQP connection kept alive: connect, and after any loss reconnect with
 * exponential backoff and jitter until close(). Channels belong to one
 * connection and die with it; the components that own them (publisher,
 * consumer groups) are told through `onUp` and rebuild their channels and
 * topology there, so nothing survives a reconnect by accident.
 *
 * States: idle → connecting → up → (lost) connecting → … → closed. `closed`
 * is final: the reconnect loop stops and pending waiters are rejected.
 */
import * as amqp from 'amqplib';
import { TransportError } from '../../errors';
import { coalesceWrites, socketOf } from './coalesce';
import type { CompiledOptions } from './options';
import { backoffDelayMs, errorText, Sleeper, withTimeout } from './timing';

export type ConnectionState = 'idle' | 'connecting' | 'up' | 'closed';

export interface ConnectionHooks {
  /** A new connection is up. Runs before waiters are released; should not throw (failures are logged). */
  onUp(model: amqp.ChannelModel): Promise<void>;
}

interface Watched {
  closed: Promise<Error | undefined>;
  open(): boolean;
}

export class BrokerConnection {
  private state: ConnectionState = 'idle';
  private model: amqp.ChannelModel | undefined;
  private waiters: { resolve: (m: amqp.ChannelModel) => void; reject: (e: Error) => void }[] = [];
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;
  /** Connections made so far; lets tests and logs tell a reconnect happened. */
  generation = 0;

  constructor(
    private readonly opts: CompiledOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get current(): amqp.ChannelModel | undefined {
    return this.state === 'up' ? this.model : undefined;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Start the loop; resolves once the first connection is up, rejects after startTimeoutMs. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new TransportError('transport already started');
    this.loop = this.run();
    try {
      await this.whenUp(this.opts.startTimeoutMs);
    } catch (err) {
      await this.close();
      throw new TransportError(`cannot connect to ${this.opts.safeUrl}: ${errorText(err)}`, { url: this.opts.safeUrl });
    }
  }

  /** The live connection, waiting up to `timeoutMs` for a reconnect if there is none right now. */
  whenUp(timeoutMs: number): Promise<amqp.ChannelModel> {
    const live = this.current;
    if (live) return Promise.resolve(live);
    if (this.state === 'closed') return Promise.reject(new TransportError('transport is closed'));
    const waiting = new Promise<amqp.ChannelModel>((resolve, reject) => this.waiters.push({ resolve, reject }));
    return withTimeout(waiting, timeoutMs, `waiting for the broker connection (${this.opts.safeUrl})`);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (this.state !== 'closed') {
      this.state = 'connecting';
      let lost: Watched | undefined;
      try {
        const model = await withTimeout(
          amqp.connect(this.opts.url, this.opts.socket),
          this.opts.connectTimeoutMs + 1000,
          'AMQP connect',
          (late) => void late.close().catch(() => undefined),
        );
        if (this.isClosed) {
          await model.close().catch(() => undefined);
          return;
        }
        const socket = socketOf(model.connection);
        if (socket) coalesceWrites(socket);
        else this.opts.log('debug', 'amqplib socket not found: frames are written one by one', { url: this.opts.safeUrl });
        lost = this.watch(model);
        this.model = model;
        this.generation++;
        this.opts.log('info', 'amqp connection up', {
          url: this.opts.safeUrl, connection_name: this.opts.connectionName, generation: this.generation,
        });
        // State goes 'up' only after onUp, so publishers and consumers that wait
        // for the connection find the topology already re-declared.
        await this.hooks.onUp(model);
        if (this.isClosed) return;
        if (!lost.open()) throw new Error('connection closed while it was being set up');
        this.state = 'up';
        attempt = 0;
        for (const w of this.waiters.splice(0)) w.resolve(model);
      } catch (err) {
        this.opts.log('warn', 'amqp connect failed', { url: this.opts.safeUrl, error: errorText(err), attempt });
        if (this.model) void this.model.close().catch(() => undefined);
      }
      if (lost) {
        const reason = await lost.closed;
        this.model = undefined;
        if (this.isClosed) return;
        this.state = 'connecting';
        this.opts.log('warn', 'amqp connection lost; reconnecting', { url: this.opts.safeUrl, error: reason ? errorText(reason) : 'closed' });
      }
      const delay = backoffDelayMs(attempt++, this.opts.reconnectMinMs, this.opts.reconnectMaxMs);
      if (!(await this.sleeper.sleep(delay))) return;
    }
  }

  /** Follow one connection: `closed` resolves with the error that closed it (if any). */
  private watch(model: amqp.ChannelModel): Watched {
    // Without an 'error' listener a heartbeat timeout would crash the process.
    model.on('error', (err: Error) => this.opts.log('warn', 'amqp connection error', { error: err.message }));
    model.on('blocked', (reason: string) =>
      this.opts.log('warn', 'broker blocked this connection (resource alarm): publishes stall until unblocked', { reason }),
    );
    model.on('unblocked', () => this.opts.log('info', 'broker unblocked this connection'));
    let open = true;
    const closed = new Promise<Error | undefined>((resolve) =>
      model.once('close', (err?: Error) => {
        open = false;
        resolve(err);
      }),
    );
    return { closed, open: () => open };
  }

  /** Stop reconnecting and close the connection (bounded by operationTimeoutMs). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.sleeper.cancel();
    for (const w of this.waiters.splice(0)) w.reject(new TransportError('transport is closed'));
    const model = this.model;
    this.model = undefined;
    if (model) await withTimeout(model.close(), this.opts.operationTimeoutMs, 'closing the AMQP connection').catch(() => undefined);
    await withTimeout(this.loop ?? Promise.resolve(), this.opts.operationTimeoutMs, 'stopping the reconnect loop').catch(() => undefined);
  }
}
