/**
 * One AMQP connection kept alive: connect to the first host of the URL that
 * answers, and after any loss reconnect (to the next host first, as oslo
 * fails over) with exponential backoff and jitter until close(). Channels belong to one
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
import { describeConnectError } from '../connect-errors';
import { HostFailures, HostRotation } from '../failover';
import type { CompiledOptions, HostTarget } from './options';
import { backoffDelayMs, errorText, Sleeper, withTimeout } from '../timing';

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
  private readonly rotation: HostRotation<HostTarget>;
  private readonly failures = new HostFailures();
  /**
   * Set while start() waits (cleared once it returns): a failFast start is
   * failed through it after one round, even if a host connected but its
   * setup (onUp) failed.
   */
  private failStart: ((err: Error) => void) | undefined;
  /** The host of the live (or last) connection, password hidden. */
  connectedTo: string | undefined;
  /** Connections made so far; lets tests and logs tell a reconnect happened. */
  generation = 0;

  constructor(
    private readonly opts: CompiledOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    this.rotation = new HostRotation(opts.hosts, opts.broker.failover);
  }

  get current(): amqp.ChannelModel | undefined {
    return this.state === 'up' ? this.model : undefined;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Start the loop; resolves once the first connection is up. Rejects after
   * startTimeoutMs, or with failFast as soon as every host failed once; the
   * error names each host's reason (ACCESS_REFUSED, connection refused…).
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new TransportError('transport already started');
    const failedRound = new Promise<never>((_, reject) => {
      this.failStart = reject;
    });
    failedRound.catch(() => undefined);
    for (const w of this.opts.broker.warnings) this.opts.log('warn', w, { url: this.opts.safeUrl });
    this.loop = this.run();
    try {
      await Promise.race([this.whenUp(this.opts.startTimeoutMs), failedRound]);
    } catch (err) {
      await this.close();
      throw new TransportError(`cannot connect to ${this.failures.explain(this.opts.safeUrl, this.opts.hosts.map((h) => h.address), errorText(err))}`, {
        url: this.opts.safeUrl,
      });
    } finally {
      this.failStart = undefined;
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

  /**
   * Connect to the current host, or the next ones in turn (HostRotation);
   * back off only after a whole round failed; after a loss, start the next
   * round at the next host.
   */
  private async run(): Promise<void> {
    let round = 0;
    while (this.state !== 'closed') {
      this.state = 'connecting';
      let lost: Watched | undefined;
      for (let tries = 0; tries < this.rotation.roundLength && !lost && !this.isClosed; tries++) {
        lost = await this.attempt(this.rotation.current, round);
        if (!lost) this.rotation.advance();
      }
      if (this.isClosed) return;
      if (lost) {
        round = 0;
        const reason = await lost.closed;
        this.model = undefined;
        if (this.isClosed) return;
        this.state = 'connecting';
        this.opts.log('warn', 'amqp connection lost; reconnecting', { url: this.connectedTo, error: reason ? errorText(reason) : 'closed' });
        this.rotation.advance();
      } else if (this.failStart && this.opts.failFast) {
        this.failStart(new TransportError('every host failed'));
        return;
      }
      const delay = backoffDelayMs(round++, this.opts.reconnectMinMs, this.opts.reconnectMaxMs);
      if (!(await this.sleeper.sleep(delay))) return;
    }
  }

  /** One connection attempt to one host; the connection's watcher when it is up, else undefined (reason logged). */
  private async attempt(host: HostTarget, round: number): Promise<Watched | undefined> {
    let lost: Watched | undefined;
    try {
      const model = await withTimeout(
        amqp.connect(host.connect, this.opts.socket),
        this.opts.connectTimeoutMs + 1000,
        'AMQP connect',
        (late) => void late.close().catch(() => undefined),
      );
      if (this.isClosed) {
        await model.close().catch(() => undefined);
        return undefined;
      }
      const socket = socketOf(model.connection);
      if (socket) coalesceWrites(socket);
      else this.opts.log('debug', 'amqplib socket not found: frames are written one by one', { url: host.label });
      lost = this.watch(model);
      this.model = model;
      this.generation++;
      this.connectedTo = host.label;
      this.failures.connected(host.address);
      this.opts.log('info', 'amqp connection up', {
        url: host.label, hosts: this.opts.hosts.length, connection_name: this.opts.connectionName, generation: this.generation,
      });
      // State goes 'up' only after onUp, so publishers and consumers that wait
      // for the connection find the topology already re-declared.
      await this.hooks.onUp(model);
      if (this.isClosed) return lost;
      if (!lost.open()) throw new TransportError('connection closed while it was being set up');
      this.state = 'up';
      for (const w of this.waiters.splice(0)) w.resolve(model);
      return lost;
    } catch (err) {
      if (this.isClosed) return lost;
      const reason = describeConnectError(err, this.opts.broker.vhost);
      const news = this.failures.note(host.address, reason);
      this.opts.log(news ? 'warn' : 'debug', 'amqp connect failed', { url: host.label, error: reason, round });
      if (this.model) void this.model.close().catch(() => undefined);
      this.model = undefined;
      return undefined;
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
