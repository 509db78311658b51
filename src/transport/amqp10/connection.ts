/**
 * One AMQP 1.0 connection kept alive (the loop, failover and backoff are
 * ../kept-connection.ts).
 * rhea's own reconnect (and its connection_details failover) is off: it
 * retries without jitter, re-attaches links with zero credit (manual credit
 * is lost), and only after `amqp:connection:forced`; we rebuild
 * sessions and links ourselves in `onUp`, like the 0-9-1 transport rebuilds
 * its channels, so nothing survives a reconnect by accident.
 */
// rhea exports a Container instance whose functions live on its prototype: a namespace import (__importStar) would drop them.
import rhea = require('rhea');
import type { Connection, Container } from 'rhea';
import { TransportError } from '../../errors';
import { errorText, withTimeout } from '../timing';
import { KeptConnection, type Opened } from '../kept-connection';
import type { CompiledOptions, HostTarget } from './options';
import { amqpErrorText, awaitFirst, dispose, firstEvent } from './rhea-util';

export type { ConnectionState } from '../kept-connection';

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

export class Amqp10Connection extends KeptConnection<Live, HostTarget> {
  protected readonly logPrefix = 'amqp10';
  protected readonly waitedFor = 'the AMQP 1.0 connection';
  private readonly container: Container;
  /** Ends the connection attempt in progress (close() must not wait out a slow handshake). */
  private attempt: ((reason: string) => void) | undefined;

  constructor(
    private readonly opts: CompiledOptions,
    private readonly hooks: ConnectionHooks,
  ) {
    super(opts);
    this.container = rhea.create_container({ id: opts.connectionName });
    // Errors no endpoint handled end up here; without a listener they would crash the process.
    this.container.on('error', (err: unknown) => this.opts.log('warn', 'amqp10 unhandled endpoint error', { error: amqpErrorText(err) }));
  }

  /** Up and still open: rhea may have closed it before the loop has seen the loss. */
  override get current(): Live | undefined {
    const live = super.current;
    return live?.isOpen() ? live : undefined;
  }

  protected logUp(host: HostTarget, live: Live): void {
    this.opts.log('info', 'amqp10 connection up', {
      url: host.label, hosts: this.opts.hosts.length, vhost: this.opts.vhost, connection_name: this.opts.connectionName, generation: live.generation,
    });
  }

  protected onUp(live: Live): Promise<void> {
    return this.hooks.onUp(live);
  }

  protected async abandon(live: Live): Promise<void> {
    live.end('transport closed');
  }

  protected discard(live: Live, err: unknown): void {
    live.end(`setting up the connection failed: ${errorText(err)}`);
  }

  protected abortAttempt(): void {
    this.attempt?.('transport closed');
  }

  protected cannotConnect(why: string): string {
    return `cannot connect over AMQP 1.0 to ${why}${hintFor(why)}`;
  }

  /** One connection attempt: TCP, SASL PLAIN, open; bounded by connectTimeoutMs. */
  protected async open(host: HostTarget, generation: number): Promise<Opened<Live>> {
    const conn = this.container.connect({ ...host.connect });
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
    const live: Live = { conn, generation, lost, isOpen: () => open && conn.is_open(), end };
    return { live, lost, isOpen: live.isOpen };
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

  /** A polite close first (the broker requeues what is unsettled either way), bounded. */
  protected async closeLive(live: Live | undefined): Promise<void> {
    if (live?.isOpen()) {
      const answered = firstEvent(live.conn, GONE);
      live.conn.close();
      await withTimeout(answered.fired, this.opts.operationTimeoutMs, 'closing the AMQP 1.0 connection').catch(() => answered.cancel());
    }
    live?.end('transport closed');
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
