/**
 * Sending intents as an oslo.messaging RPC client would: casts and calls to
 * `compute.<host>` on the control exchange, namespace "hostwall", with the
 * reply path oslo uses (one `reply_<hex>` queue per client, replies matched
 * by `_msg_id`). Used by the CLI, the demo, replay and the tests; any
 * oslo.messaging client in any language can do the same.
 *
 * With a signer, every message carries the issuer's HMAC signature for the
 * routing key it is sent with (policy/signature.ts): what a worker in
 * issuer mode `verified` takes as proof when the AMQP user is not mapped.
 */
import { TransportError } from '../errors';
import { currentVersion, INTENT_NAMESPACE, isIntentKind, validateIntent } from '../intents';
import { decodeOsloBody } from '../oslo/envelope';
import { CallReplies, decodeRpcReply } from '../oslo/rpc-reply';
import { encodeRpcRequest, rpcRoute } from '../oslo/rpc-request';
import { osloOutbound } from '../oslo/outbound';
import { signatureHeaders } from '../policy/signature';
import { replyQueueName, replyQueueTopology } from '../oslo/topology';
import type { InboundMessage, Transport } from '../transport/transport';

export interface SendOptions {
  /** Intent schema version sent; the default is the newest this build knows. */
  version?: string;
  context?: Record<string, unknown>;
  /** oslo `_unique_id`: the intent id unless args carry `intent_id`. */
  uniqueId?: string;
  /** Skip local validation (to send something on purpose invalid, e.g. in tests). */
  unchecked?: boolean;
}

/** Who signs, and with which key (the issuer's entry of the keys file the workers read). */
export interface MessageSigner {
  issuer: string;
  key: string;
}

export interface CallOptions extends SendOptions {
  timeoutMs?: number;
  /** oslo call_monitor_timeout (s): the worker heartbeats every half of it. */
  monitorTimeoutS?: number;
}

/** The version a client sends when none is named: the newest this build knows. */
function versionFor(kind: string, asked: string | undefined): string {
  return asked ?? (isIntentKind(kind) ? currentVersion(kind) : '1.0');
}

export class IntentClient {
  private replyQueue: string | undefined;
  private readonly waiting = new Map<string, { replies: CallReplies; resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

  constructor(
    private readonly transport: Transport,
    private readonly opts: { controlExchange: string; topic?: string; signer?: MessageSigner | undefined },
  ) {}

  /** Validate locally, then publish; resolves with the intent id once the broker confirmed. */
  async cast(host: string, kind: string, args: Record<string, unknown>, o: SendOptions = {}): Promise<{ intentId: string }> {
    this.check(kind, args, o);
    const enc = encodeRpcRequest({ method: kind, args, namespace: INTENT_NAMESPACE, version: versionFor(kind, o.version), context: o.context ?? {}, ...(o.uniqueId ? { uniqueId: o.uniqueId } : {}) });
    await this.publish(host, enc.message, undefined);
    return { intentId: typeof args.intent_id === 'string' ? args.intent_id : enc.uniqueId };
  }

  /** Validate locally, publish, and wait for the final reply; throws the worker's failure as a RemoteError. */
  async call(host: string, kind: string, args: Record<string, unknown>, o: CallOptions = {}): Promise<unknown> {
    this.check(kind, args, o);
    const replyQueue = await this.ensureReplyQueue();
    const timeoutMs = o.timeoutMs ?? 60_000;
    const enc = encodeRpcRequest({
      method: kind, args, namespace: INTENT_NAMESPACE, version: versionFor(kind, o.version), context: o.context ?? {},
      ...(o.uniqueId ? { uniqueId: o.uniqueId } : {}),
      call: { replyQueue, timeoutS: o.monitorTimeoutS ?? null },
    });
    const msgId = enc.msgId ?? '';
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msgId);
        reject(new TransportError(`Timed out waiting for a reply to message ID ${msgId} (${kind} to ${host})`));
      }, timeoutMs);
      this.waiting.set(msgId, {
        replies: new CallReplies(),
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
    try {
      await this.publish(host, enc.message, timeoutMs);
    } catch (err) {
      this.waiting.get(msgId)?.reject(err);
    }
    return result;
  }

  private check(kind: string, args: Record<string, unknown>, o: SendOptions): void {
    if (o.unchecked) return;
    validateIntent(kind, versionFor(kind, o.version), args);
  }

  private async publish(host: string, message: Record<string, unknown>, expirationMs: number | undefined): Promise<void> {
    const route = rpcRoute({ exchange: this.opts.controlExchange, topic: this.opts.topic ?? 'compute', server: host });
    const out = osloOutbound({ ...route, message, ...(expirationMs !== undefined ? { expirationMs } : {}), mandatory: true });
    const signer = this.opts.signer;
    const r = await this.transport.publish(signer ? { ...out, headers: { ...out.headers, ...signatureHeaders(signer.issuer, signer.key, out.routingKey, out.body) } } : out);
    if (r === 'unroutable') throw new TransportError(`no queue for ${route.routingKey} on exchange ${route.exchange}: is a worker for host "${host}" running?`);
  }

  private async ensureReplyQueue(): Promise<string> {
    if (this.replyQueue) return this.replyQueue;
    const name = replyQueueName();
    await this.transport.declare(replyQueueTopology(name));
    await this.transport.consume([name], { prefetch: 100 }, (m) => this.onReply(m));
    this.replyQueue = name;
    return name;
  }

  private onReply(m: InboundMessage): void {
    void m.settle('ack');
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
