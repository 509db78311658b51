/**
 * The caller's side of oslo.messaging RPC (docs/oslo-wire.md#requests): casts, calls and fanout
 * casts to a target `{topic, server?}` on a control exchange, with the reply
 * path the Python client uses (one `reply_<hex>` queue per client, replies
 * matched by `_msg_id`, the last non-null value of a call winning).
 *
 * Contract:
 * - `call` resolves with the reply's result, rejects with the server's
 *   RemoteError (its oslo class name intact), or with a TransportError
 *   `MessagingTimeout` when no final reply came within the timeout — the
 *   request carries that timeout as its TTL (oslo's `expiration`), so a
 *   request nobody consumed in time dies in its queue instead of running late.
 * - A request no queue is bound for is refused at once (mandatory publish):
 *   the caller learns "nobody serves <topic>" without waiting for a timeout.
 * - A late reply to a call that timed out is dropped, as oslo drops it.
 *
 * Used by hostwall's own intent client (CLI, replay, tests) and by the Nova
 * adapter's conductor and scheduler clients.
 */
import { TransportError } from '../errors';
import { ackOnReceipt, type InboundMessage, type OutboundMessage, type Transport } from '../transport/transport';
import { decodeOsloBody } from './envelope';
import { osloOutbound } from './outbound';
import { CallReplies, decodeRpcReply } from './rpc-reply';
import { encodeRpcRequest, rpcRoute } from './rpc-request';
import { replyQueueName, replyQueueTopology } from './topology';

export interface RpcTarget {
  topic: string;
  /** The server of `topic` (routing key `<topic>.<server>`); absent: any server of the topic. */
  server?: string;
  /** Every server of the topic, through `<topic>_fanout` (casts only). */
  fanout?: boolean;
}

export interface RpcRequestSpec {
  method: string;
  args: Record<string, unknown>;
  namespace?: string;
  version?: string;
  /** Flattened into `_context_<key>` as oslo's pack_context does. */
  context?: Record<string, unknown>;
  /** The oslo `_unique_id` (default: a new uuid4 hex). */
  uniqueId?: string;
}

export interface RpcCallOptions {
  timeoutMs: number;
  /** oslo call_monitor_timeout (s): the server heartbeats every half of it. */
  monitorTimeoutS?: number;
}

/** What a publish that no queue took means to the caller: a named TransportError. */
export class Unroutable extends TransportError {}

interface Waiting {
  replies: CallReplies;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** What a caller of oslo RPC needs (tests give a scripted one). */
export interface RpcCaller {
  cast(target: RpcTarget, req: RpcRequestSpec): Promise<{ uniqueId: string }>;
  call(target: RpcTarget, req: RpcRequestSpec, o: RpcCallOptions): Promise<unknown>;
}

export class RpcClient implements RpcCaller {
  private replyQueue: Promise<string> | undefined;
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly transport: Transport,
    private readonly opts: {
      controlExchange: string;
      /** Last touch to every request before it is published (hostwall's signer adds its signature headers). */
      finish?: (out: OutboundMessage) => OutboundMessage;
    },
  ) {}

  /** Publish a cast; resolves with its `_unique_id` once the broker confirmed it. */
  async cast(target: RpcTarget, req: RpcRequestSpec): Promise<{ uniqueId: string }> {
    const enc = encodeRpcRequest({ ...req, context: req.context ?? {} });
    await this.publish(target, enc.message, undefined);
    return { uniqueId: enc.uniqueId };
  }

  /** Publish a call and wait for its final reply (see the file's contract). */
  async call(target: RpcTarget, req: RpcRequestSpec, o: RpcCallOptions): Promise<unknown> {
    if (target.fanout) throw new TransportError('oslo does not call a fanout target; cast to it');
    const replyQueue = await this.ensureReplyQueue();
    const enc = encodeRpcRequest({
      ...req, context: req.context ?? {}, call: { replyQueue, timeoutS: o.monitorTimeoutS ?? null },
    });
    const msgId = enc.msgId ?? '';
    const what = `${req.method} to ${rpcRoute({ exchange: this.opts.controlExchange, ...target }).routingKey}`;
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msgId);
        reject(new TransportError(`MessagingTimeout: timed out waiting for a reply to message ID ${msgId} (${what}, ${o.timeoutMs} ms)`, { timeout: true }));
      }, o.timeoutMs);
      this.waiting.set(msgId, {
        replies: new CallReplies(),
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
    try {
      await this.publish(target, enc.message, o.timeoutMs);
    } catch (err) {
      this.waiting.get(msgId)?.reject(err);
      this.waiting.delete(msgId);
    }
    return result;
  }

  private async publish(target: RpcTarget, message: Record<string, unknown>, expirationMs: number | undefined): Promise<void> {
    const route = rpcRoute({ exchange: this.opts.controlExchange, ...target });
    // A fanout cast with no listener is not an error in oslo (it simply reaches nobody).
    const mandatory = !target.fanout;
    const out = osloOutbound({ ...route, message, ...(expirationMs !== undefined ? { expirationMs } : {}), mandatory });
    const r = await this.transport.publish(this.opts.finish ? this.opts.finish(out) : out);
    if (r === 'unroutable') {
      throw new Unroutable(`no queue for ${route.routingKey || target.topic} on exchange ${route.exchange}: nothing serves topic "${target.topic}"${target.server ? ` on server "${target.server}"` : ''}`, { unroutable: true });
    }
  }

  private ensureReplyQueue(): Promise<string> {
    this.replyQueue ??= (async () => {
      const name = replyQueueName();
      await this.transport.declare(replyQueueTopology(name));
      await this.transport.consume([name], { prefetch: 100 }, ackOnReceipt((m) => this.onReply(m)));
      return name;
    })().catch((err: unknown) => {
      this.replyQueue = undefined;
      throw err;
    });
    return this.replyQueue;
  }

  private onReply(m: InboundMessage): void {
    let reply: ReturnType<typeof decodeRpcReply>;
    try {
      reply = decodeRpcReply(decodeOsloBody(m.body, m.contentType, m.contentEncoding));
    } catch {
      return;
    }
    const w = reply?.msgId ? this.waiting.get(reply.msgId) : undefined;
    if (!reply || !w) return; // a late reply to a call that already timed out: oslo drops it too
    if (w.replies.accept(reply) !== 'final') return;
    this.waiting.delete(reply.msgId ?? '');
    try {
      w.resolve(w.replies.outcome());
    } catch (err) {
      w.reject(err);
    }
  }
}
