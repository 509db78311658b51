/**
 * Publishing over AMQP 1.0: unsettled transfers on sender links of one
 * session, each resolved by the broker's disposition — 1.0's publisher
 * confirms.
 *
 * Contract of publish(), equal to the 0-9-1 transport's where the broker lets it be:
 * - 'confirmed': the broker settled it `accepted`;
 * - 'unroutable': only where the broker reports routing failures — RabbitMQ
 *   4.x settles a message that reached no queue `released`, so a mandatory
 *   publish gets 'unroutable' (a non-mandatory one 'confirmed', as 0-9-1 acks
 *   it). RabbitMQ 3.x has NO such signal: a message to a missing queue or an
 *   unbound key is accepted and dropped, so mandatory publishes are always
 *   'confirmed' there. Callers must not rely on 'unroutable' over 1.0 on 3.x.
 * - rejects with TransportError on `rejected` (e.g. a queue at max-length
 *   with reject-publish), on `released`/`modified` where they do not mean
 *   unroutable, when the link, session or connection ends first (e.g. a
 *   missing exchange: 3.x ends the session with amqp:not-found), and when no
 *   disposition came within confirmTimeoutMs. In the last cases the message
 *   may still have been delivered: callers that retry must tolerate duplicates.
 *
 * Flow: messages wait in a local queue per link until rhea says the link is
 * sendable (credit from the broker AND a free slot in the session's outgoing
 * buffer, whose overflow would throw). Links are kept per target address
 * (RabbitMQ 3.x: one per exchange/key, one `/queue` link for all replies;
 * 4.x: one anonymous link), the least recently used idle one detached past
 * maxSenderLinks.
 */
import type { Delivery, EventContext, Message, Sender, Session } from 'rhea';
import { TransportError } from '../../errors';
import { errorText, withTimeout } from '../timing';
import { SingleFlight } from '../single-flight';
import type { OutboundMessage, PublishResult } from '../transport';
import type { Amqp10Connection, Live } from './connection';
import { outboundMessage } from './message-map';
import type { CompiledOptions } from './options';
import { amqpError, amqpErrorText } from './rhea-util';

interface Pending {
  readonly message: Message;
  readonly what: string;
  readonly mandatory: boolean;
  /** Published to the default exchange, i.e. straight to a queue named by the routing key. */
  readonly toQueue: boolean;
  readonly details: Record<string, unknown>;
  sent: boolean;
  finish(result: PublishResult | TransportError): void;
}

interface SenderLink {
  readonly address: string | null;
  readonly sender: Sender;
  readonly waiting: Pending[];
  readonly inFlight: Map<Delivery, Pending>;
  open: boolean;
  lastUsed: number;
}

interface PublishSession {
  readonly session: Session;
  readonly links: Map<string, SenderLink>;
  open: boolean;
}

const ANONYMOUS = '\u0000anonymous';

export class Publisher {
  private current: PublishSession | undefined;
  private readonly opening = new SingleFlight<PublishSession>();
  private readonly outstanding = new Set<Promise<unknown>>();

  constructor(
    private readonly conn: Amqp10Connection,
    private readonly opts: CompiledOptions,
  ) {}

  async publish(msg: OutboundMessage): Promise<PublishResult> {
    const route = this.opts.book.target(msg.exchange, msg.routingKey); // throws for what the family cannot express
    const deadline = Date.now() + this.opts.confirmTimeoutMs;
    const what = `publish to exchange "${msg.exchange}" with key "${msg.routingKey}"`;
    const details = { exchange: msg.exchange, routing_key: msg.routingKey };
    const ps = await this.session(deadline);
    const result = new Promise<PublishResult>((resolve, reject) => {
      let done = false;
      const pending: Pending = {
        message: outboundMessage(msg, route),
        what,
        mandatory: msg.mandatory === true,
        toQueue: msg.exchange === '' || msg.exchange === 'amq.default',
        details,
        sent: false,
        finish: (r) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (r instanceof TransportError) reject(r);
          else resolve(r);
        },
      };
      const timer = setTimeout(() => {
        const outcome = pending.sent ? 'unknown' : 'not_sent';
        pending.finish(new TransportError(`${what}: no disposition within ${this.opts.confirmTimeoutMs} ms; outcome ${outcome}`, { ...details, outcome }));
        this.forget(ps, pending);
      }, Math.max(0, deadline - Date.now()));
      const link = this.link(ps, route.link);
      link.waiting.push(pending);
      link.lastUsed = Date.now();
      this.pump(link);
    });
    this.outstanding.add(result);
    void result.catch(() => undefined).finally(() => this.outstanding.delete(result));
    return result;
  }

  private pump(link: SenderLink): void {
    while (link.open && link.waiting.length > 0 && link.sender.sendable()) {
      const p = link.waiting.shift();
      if (!p) break;
      try {
        link.inFlight.set(link.sender.send(p.message), p);
        p.sent = true;
      } catch (err) {
        p.finish(new TransportError(`${p.what}: ${errorText(err)}`, { ...p.details, outcome: 'not_sent' }));
      }
    }
  }

  private link(ps: PublishSession, address: string | null): SenderLink {
    const key = address ?? ANONYMOUS;
    const existing = ps.links.get(key);
    if (existing?.open) return existing;
    const sender = ps.session.open_sender({ target: address === null ? {} : { address }, autosettle: true });
    const link: SenderLink = { address, sender, waiting: [], inFlight: new Map(), open: true, lastUsed: Date.now() };
    ps.links.set(key, link);
    sender.on('sendable', () => this.pump(link));
    sender.on('accepted', (ctx: EventContext) => this.settled(link, ctx, 'confirmed'));
    sender.on('rejected', (ctx: EventContext) => {
      const error = ctx.delivery?.remote_state?.error;
      this.settled(link, ctx, (p) => {
        // RabbitMQ 4.x (anonymous terminus): a `to` naming a queue that does not exist is rejected
        // amqp:not-found — for a queue that is 0-9-1's unroutable, not an error (from the docs; untested here).
        if (this.opts.book.releasedMeansUnroutable && p.toQueue && amqpError(error).condition === 'amqp:not-found') return p.mandatory ? 'unroutable' : 'confirmed';
        return new TransportError(`${p.what}: the broker rejected it (${amqpErrorText(error)})`, { ...p.details, outcome: 'rejected' });
      });
    });
    // rhea reports `modified` as `released` too (treat_modified_as_released).
    sender.on('released', (ctx: EventContext) =>
      this.settled(link, ctx, (p) => {
        if (this.opts.book.releasedMeansUnroutable) return p.mandatory ? 'unroutable' : 'confirmed';
        return new TransportError(`${p.what}: the broker released it (not delivered)`, { ...p.details, outcome: 'released' });
      }),
    );
    const detached = (): void => this.failLink(ps, link, `the broker detached the link to "${address ?? '(anonymous)'}": ${amqpErrorText(sender.error)}`);
    sender.on('sender_error', detached);
    sender.on('sender_close', detached);
    this.evictIdle(ps, link);
    return link;
  }

  private settled(link: SenderLink, ctx: EventContext, outcome: PublishResult | ((p: Pending) => PublishResult | TransportError)): void {
    const d = ctx.delivery;
    const p = d ? link.inFlight.get(d) : undefined;
    if (!d || !p) return; // timed out already
    link.inFlight.delete(d);
    p.finish(typeof outcome === 'function' ? outcome(p) : outcome);
  }

  /** Past maxSenderLinks, detach the least recently used link (other than `keep`) with nothing waiting or in flight. */
  private evictIdle(ps: PublishSession, keep: SenderLink): void {
    if (ps.links.size <= this.opts.maxSenderLinks) return;
    let oldest: [string, SenderLink] | undefined;
    for (const entry of ps.links) {
      const l = entry[1];
      if (l !== keep && l.waiting.length === 0 && l.inFlight.size === 0 && (!oldest || l.lastUsed < oldest[1].lastUsed)) oldest = entry;
    }
    if (!oldest) return;
    const [key, l] = oldest;
    l.open = false;
    ps.links.delete(key);
    try {
      l.sender.close();
    } catch {
      // Already detached.
    }
  }

  private forget(ps: PublishSession, p: Pending): void {
    for (const l of ps.links.values()) {
      const i = l.waiting.indexOf(p);
      if (i >= 0) l.waiting.splice(i, 1);
      for (const [d, q] of l.inFlight) if (q === p) l.inFlight.delete(d);
    }
  }

  private failLink(ps: PublishSession, link: SenderLink, reason: string): void {
    if (!link.open) return;
    link.open = false;
    if (ps.links.get(link.address ?? ANONYMOUS) === link) ps.links.delete(link.address ?? ANONYMOUS);
    for (const p of link.waiting.splice(0)) p.finish(new TransportError(`${p.what}: ${reason}; not sent`, { ...p.details, outcome: 'not_sent' }));
    for (const p of link.inFlight.values()) p.finish(new TransportError(`${p.what}: ${reason}; outcome unknown`, { ...p.details, outcome: 'unknown' }));
    link.inFlight.clear();
  }

  private failSession(ps: PublishSession, reason: string): void {
    if (!ps.open) return;
    ps.open = false;
    if (this.current === ps) this.current = undefined;
    this.opts.log('warn', 'publish session ended', { error: reason });
    for (const l of [...ps.links.values()]) this.failLink(ps, l, reason);
  }

  /** The open publish session, opening one (after waiting for the connection) if needed. */
  private async session(deadline: number): Promise<PublishSession> {
    if (this.current?.open) return this.current;
    return this.opening.run(() => this.open(deadline));
  }

  private async open(deadline: number): Promise<PublishSession> {
    const live: Live = await this.conn.whenUp(deadline - Date.now());
    const session = live.conn.create_session();
    const ps: PublishSession = { session, links: new Map(), open: true };
    // 3.x ends the session on a missing exchange or a forged user_id: like a 0-9-1 channel error.
    session.on('session_error', () => this.failSession(ps, `the broker ended the session (${amqpErrorText(session.error)})`));
    session.on('session_close', () => this.failSession(ps, 'the broker ended the session'));
    void live.lost.then((reason) => this.failSession(ps, `connection lost before the broker settled (${reason})`));
    session.begin();
    this.current = ps;
    return ps;
  }

  /** Wait (bounded) for outstanding dispositions, then end the session. */
  async close(): Promise<void> {
    await withTimeout(Promise.allSettled([...this.outstanding]), this.opts.operationTimeoutMs, 'waiting for outstanding dispositions').catch(() => undefined);
    const ps = this.current;
    this.current = undefined;
    if (!ps?.open) return;
    ps.open = false;
    try {
      ps.session.close();
    } catch {
      // Already ended.
    }
  }
}
