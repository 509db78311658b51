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
import { RpcClient, type RpcRequestSpec, type RpcTarget, Unroutable } from '../oslo/rpc-client';
import { signatureHeaders } from '../policy/signature';
import type { Transport } from '../transport/transport';

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

/** The local validation cast() and call() do, alone: lets a command refuse a bad intent before it connects. */
export function checkIntent(kind: string, args: Record<string, unknown>, version?: string): void {
  validateIntent(kind, versionFor(kind, version), args);
}

export class IntentClient {
  private readonly rpc: RpcClient;

  constructor(
    transport: Transport,
    private readonly opts: { controlExchange: string; topic?: string; signer?: MessageSigner | undefined },
  ) {
    const signer = opts.signer;
    this.rpc = new RpcClient(transport, {
      controlExchange: opts.controlExchange,
      ...(signer ? { finish: (out) => ({ ...out, headers: { ...out.headers, ...signatureHeaders(signer.issuer, signer.key, out.routingKey, out.body) } }) } : {}),
    });
  }

  /** Validate locally, then publish; resolves with the intent id once the broker confirmed. */
  async cast(host: string, kind: string, args: Record<string, unknown>, o: SendOptions = {}): Promise<{ intentId: string }> {
    this.check(kind, args, o);
    const sent = await this.send(() => this.rpc.cast(this.target(host), this.request(kind, args, o)), host);
    return { intentId: typeof args.intent_id === 'string' ? args.intent_id : sent.uniqueId };
  }

  /** Validate locally, publish, and wait for the final reply; throws the worker's failure as a RemoteError. */
  async call(host: string, kind: string, args: Record<string, unknown>, o: CallOptions = {}): Promise<unknown> {
    this.check(kind, args, o);
    const opts = { timeoutMs: o.timeoutMs ?? 60_000, ...(o.monitorTimeoutS !== undefined ? { monitorTimeoutS: o.monitorTimeoutS } : {}) };
    return this.send(() => this.rpc.call(this.target(host), this.request(kind, args, o), opts), host);
  }

  private target(host: string): RpcTarget {
    return { topic: this.opts.topic ?? 'compute', server: host };
  }

  private request(kind: string, args: Record<string, unknown>, o: SendOptions): RpcRequestSpec {
    return {
      method: kind, args, namespace: INTENT_NAMESPACE, version: versionFor(kind, o.version), context: o.context ?? {},
      ...(o.uniqueId ? { uniqueId: o.uniqueId } : {}),
    };
  }

  /** An unroutable intent means no worker consumes that host's queue: say so in the host's terms. */
  private async send<T>(fn: () => Promise<T>, host: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Unroutable) throw new TransportError(`${err.message}: is a worker for host "${host}" running?`, err.details);
      throw err;
    }
  }

  private check(kind: string, args: Record<string, unknown>, o: SendOptions): void {
    if (o.unchecked) return;
    validateIntent(kind, versionFor(kind, o.version), args);
  }
}
