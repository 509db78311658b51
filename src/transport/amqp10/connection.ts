/**
 * One AMQP 1.0 connection kept alive: connect to the first host of the URL
 * that answers, and after any loss reconnect (to the next host first, as
 * oslo fails over) with exponential backoff and jitter until close().
 * rhea's own reconnect (and its connection_details failover) is off: it
 * retries without jitter, re-attaches links with zero credit (manual credit
 * is lost), and only after `amqp:connection:forced`; we rebuild
 * sessions and links ourselves in `onUp`, like the 0-9-1 transport rebuilds
 * its channels, so nothing survives a reconnect by accident.
 *
 * States: idle → connecting → up → (lost) connecting → … → closed. `closed`
 * is final: the loop stops and pending waiters are rejected.
 */
// rhea exports a Container instance whose functions live on its prototype: a namespace import (__importStar) would drop them.
import rhea = require('rhea');
import type { Connection, Container } from 'rhea';
import { TransportError } from '../../errors';
import { backoffDelayMs, errorText, Sleeper, withTimeout } from '../timing';
import { describeConnectError } from '../connect-errors';
import { HostFailures, HostRotation } from '../failover';
import type { CompiledOptions, HostTarget } from './options';
import { amqpErrorText, awaitFirst, dispose, firstEvent } from './rhea-util';

export type ConnectionState = 'idle' | 'connecting' | 'up' | 'closed';

/** One connection's lifetime. Sessions and links made on it die with it. */
export interface Live {
  readonly conn: Connection;
  readonly generation: number;
  /** Resolves (with the reason) when this connection is gone for good. */
  readonly lost: Promise<string>;
  isOpen(): boolean;
  /**
   * Close it from our side and count it as lost now: once rhea has closed a
   * connection locally it no longer reports the socket going away, so `lost`
   * must not wait for the broker's answer.
   */
  end(reason: string): void;
}

export interface ConnectionHooks {
  /** A new connection is up. Runs before waiters are released; should not throw (failures are logged). */
  onUp(live: Live): Promise<void>;
}

/** The events after which a rhea connection (with reconnect off) is finished. */
const GONE = ['disconnected', 'connection_close', 'connection_error'] as const;

export class Amqp10Connection {
  private state: ConnectionState = 'idle';
  private live: Live | undefined;
  private waiters: { resolve: (l: Live) => void; reject: (e: Error) => void }[] = [];
  private readonly sleeper = new Sleeper();
  private readonly container: Container;
  private loop: Promise<void> | undefined;
  /** Ends the connection attempt in progress (close() must not wait out a slow handshake). */
  private attempt: ((reason: string) => void) | undefined;
  private readonly rotation: HostRotation<HostTarget>;
  /** Why each host last failed, for the logs and start()'s error (a timeout alone tells an operator nothing). */
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
    this.rotation = new HostRotation(opts.hosts, opts.failover);
    this.container = rhea.create_container({ id: opts.connectionName });
    // Errors no endpoint handled end up here; without a listener they would crash the process.
    this.container.on('error', (err: unknown) => this.opts.log('warn', 'amqp10 unhandled endpoint error', { error: amqpErrorText(err) }));
  }

  get current(): Live | undefined {
    return this.state === 'up' && this.live?.isOpen() ? this.live : undefined;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Start the loop; resolves once the first connection is up. Rejects after
   * startTimeoutMs, or with failFast as soon as every host failed once; the
   * error names each host's reason.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new TransportError('transport already started');
    const failedRound = new Promise<never>((_, reject) => {
      this.failStart = reject;
    });
    failedRound.catch(() => undefined);
    for (const w of this.opts.warnings) this.opts.log('warn', w, { url: this.opts.safeUrl });
    this.loop = this.run();
    try {
      await Promise.race([this.whenUp(this.opts.startTimeoutMs), failedRound]);
    } catch (err) {
      await this.close();
      const why = this.failures.explain(this.opts.safeUrl, this.opts.hosts.map((h) => h.address), errorText(err));
      throw new TransportError(`cannot connect over AMQP 1.0 to ${why}${hintFor(why)}`, { url: this.opts.safeUrl });
    } finally {
      this.failStart = undefined;
    }
  }

  /** The live connection, waiting up to `timeoutMs` for a reconnect if there is none right now. */
  whenUp(timeoutMs: number): Promise<Live> {
    const live = this.current;
    if (live) return Promise.resolve(live);
    if (this.state === 'closed') return Promise.reject(new TransportError('transport is closed'));
    const waiting = new Promise<Live>((resolve, reject) => this.waiters.push({ resolve, reject }));
    return withTimeout(waiting, timeoutMs, `waiting for the AMQP 1.0 connection (${this.opts.safeUrl})`);
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
      let live: Live | undefined;
      for (let tries = 0; tries < this.rotation.roundLength && !live && !this.isClosed; tries++) {
        live = await this.tryHost(this.rotation.current, round);
        if (!live) this.rotation.advance();
      }
      if (this.isClosed) return;
      if (live) {
        round = 0;
        const reason = await live.lost;
        this.live = undefined;
        if (this.isClosed) return;
        this.state = 'connecting';
        this.opts.log('warn', 'amqp10 connection lost; reconnecting', { url: this.connectedTo, error: reason });
        this.rotation.advance();
      } else if (this.failStart && this.opts.failFast) {
        this.failStart(new TransportError('every host failed'));
        return;
      }
      const delay = backoffDelayMs(round++, this.opts.reconnectMinMs, this.opts.reconnectMaxMs);
      if (!(await this.sleeper.sleep(delay))) return;
    }
  }

  /** One attempt on one host: the live connection once it is set up, else undefined (reason logged). */
  private async tryHost(host: HostTarget, round: number): Promise<Live | undefined> {
    let live: Live | undefined;
    try {
      live = await this.open(host);
      if (this.isClosed) {
        live.end('transport closed');
        return undefined;
      }
      this.live = live;
      this.connectedTo = host.label;
      this.failures.connected(host.address);
      this.opts.log('info', 'amqp10 connection up', {
        url: host.label, hosts: this.opts.hosts.length, vhost: this.opts.vhost, connection_name: this.opts.connectionName, generation: live.generation,
      });
      // State goes 'up' only after onUp, so publishers and consumers waiting for the
      // connection find the topology declared again and their links re-attached.
      await this.hooks.onUp(live);
      if (this.isClosed) return live;
      if (!live.isOpen()) throw new TransportError('connection closed while it was being set up');
      this.state = 'up';
      for (const w of this.waiters.splice(0)) w.resolve(live);
      return live;
    } catch (err) {
      if (this.isClosed) return undefined; // the attempt was ended by close()
      const reason = describeConnectError(err, this.opts.vhost);
      const news = this.failures.note(host.address, reason);
      this.opts.log(news ? 'warn' : 'debug', 'amqp10 connect failed', { url: host.label, error: reason, round });
      live?.end(`setting up the connection failed: ${errorText(err)}`);
      this.live = undefined;
      return undefined;
    }
  }

  /** One connection attempt: TCP, SASL PLAIN, open; bounded by connectTimeoutMs. */
  private async open(host: HostTarget): Promise<Live> {
    const conn = this.container.connect({ ...host.connect });
    const generation = this.generation + 1;
    let open = false;
    let markLost: (reason: string) => void = () => undefined;
    const lost = new Promise<string>((resolve) => {
      markLost = (reason) => {
        open = false;
        resolve(reason);
      };
    });
    // Without a listener rhea prints these to stderr; the 'disconnected' that follows carries the reason.
    conn.on('protocol_error', (e: unknown) => this.opts.log('debug', 'amqp10 protocol error', { error: amqpErrorText(e) }));
    for (const event of GONE) conn.on(event, () => undefined); // a second 'disconnected' etc. after `gone` fired
    const gone = firstEvent(conn, GONE);
    void gone.fired.then(({ event, arg }) => {
      markLost(lostReason(conn, event, arg));
      dispose(conn);
    });
    const end = (reason: string): void => {
      gone.cancel();
      markLost(reason);
      dispose(conn);
    };
    this.attempt = end;
    try {
      const opened = awaitFirst(conn, ['connection_open', ...GONE], this.opts.connectTimeoutMs, 'AMQP 1.0 connect');
      const first = await Promise.race([opened, lost.then((reason) => ({ event: 'lost', arg: reason }))]);
      if (first.event === 'lost') throw new TransportError(String(first.arg));
      if (first.event !== 'connection_open') throw new TransportError(lostReason(conn, first.event, first.arg));
      await this.probe(conn, lost);
    } catch (err) {
      end(errorText(err));
      throw err;
    } finally {
      this.attempt = undefined;
    }
    open = true;
    this.generation = generation;
    return { conn, generation, lost, isOpen: () => open && conn.is_open(), end };
  }

  /**
   * Begin (and end) one session before calling the connection up: RabbitMQ 3.x
   * accepts the open of a vhost that does not exist (or that the user may not
   * use) and refuses only at the first session, closing the connection.
   */
  private async probe(conn: Connection, lost: Promise<string>): Promise<void> {
    const session = conn.create_session();
    const ready = awaitFirst(session, ['session_open', 'session_error', 'session_close'], this.opts.connectTimeoutMs, 'beginning a first AMQP 1.0 session');
    session.begin();
    const first = await Promise.race([ready, lost.then((reason) => ({ event: 'lost', arg: reason }))]);
    if (first.event !== 'session_open') {
      throw new TransportError(first.event === 'lost' ? String(first.arg) : `the broker refused a session: ${amqpErrorText(session.error)}`);
    }
    session.close();
  }

  /** Stop reconnecting and close the connection (bounded by operationTimeoutMs). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.sleeper.cancel();
    this.attempt?.('transport closed');
    for (const w of this.waiters.splice(0)) w.reject(new TransportError('transport is closed'));
    const live = this.live;
    this.live = undefined;
    if (live?.isOpen()) {
      // A polite close first (the broker requeues what is unsettled either way), bounded.
      const answered = firstEvent(live.conn, GONE);
      live.conn.close();
      await withTimeout(answered.fired, this.opts.operationTimeoutMs, 'closing the AMQP 1.0 connection').catch(() => answered.cancel());
    }
    live?.end('transport closed');
    await withTimeout(this.loop ?? Promise.resolve(), this.opts.operationTimeoutMs, 'stopping the reconnect loop').catch(() => undefined);
  }
}

/** What an operator should check, for the failures that have one usual cause. */
function hintFor(reason: string): string {
  if (/AMQP version: 0-9-1/.test(reason)) return ' (the broker speaks only AMQP 0-9-1 here: on RabbitMQ 3.x run `rabbitmq-plugins enable rabbitmq_amqp1_0`)';
  // RabbitMQ 3.x says this for a vhost that does not exist as well as for one the user may not use.
  if (/insufficient permissions|vhost|virtual host/i.test(reason)) return " (check that the vhost in the URL path exists and the user has permissions on it)";
  if (/unauthorized|authenticat|PLAIN/i.test(reason)) return ' (check the user and password in the URL)';
  return '';
}

/** Why a connection ended, from the event that said so and the connection's own error. */
function lostReason(conn: Connection, event: string, arg: unknown): string {
  const ctxError = typeof arg === 'object' && arg !== null && 'error' in arg ? arg.error : undefined;
  const err = ctxError ?? conn.error ?? conn.get_error();
  if (err) return `${event}: ${amqpErrorText(err)}`;
  return event === 'connection_close' ? 'closed by the broker' : event;
}
