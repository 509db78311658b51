/**
 * nova-conductor, as a compute host calls it (nova.conductor.rpcapi, topic
 * `conductor` on the control exchange, API 3.0): object class actions
 * (`Service.get_by_host_and_binary`, `InstanceList.get_by_host`, ...),
 * object actions (`Instance.save`, `ComputeNode.create`, ...) with Nova
 * object primitives in and out, and the `baseapi` ping that nova-compute's
 * start-up waits on.
 *
 * Failure contract (as nova-compute sees it):
 * - the conductor raised: the call rejects with the RemoteError it sent, its
 *   Python class intact (`UnexpectedTaskStateError`, `InstanceNotFound`,
 *   `ComputeHostNotFound`...); `remoteClass(err)` reads it;
 * - no final reply within `rpc_response_timeout`: a TransportError whose
 *   details say `timeout: true` (oslo's MessagingTimeout); the request dies
 *   in the conductor's queue with it (its TTL), so a late run is possible
 *   only if the conductor had already taken it;
 * - no conductor queue at all: rejected at once (nothing serves the topic).
 * Nothing is retried here: whether a call may be repeated depends on the
 * object method, which the caller knows.
 */
import type { z } from 'zod';
import type { Logger } from '../../../log';
import { RemoteError } from '../../../oslo/failure';
import type { RpcCaller } from '../../../oslo/rpc-client';
import { adminContext, type NovaContext } from './context';
import { applyUpdates, type NovaPrimitive, ObjectActionReply } from './primitive';
import { CONDUCTOR_API_VERSION, OBJECT_VERSIONS } from './versions';

export interface ConductorSettings {
  /** oslo.messaging topic of the conductor (Nova: [conductor] topic, "conductor"). */
  topic: string;
  /** [DEFAULT] rpc_response_timeout, in ms (60 s). */
  timeoutMs: number;
  /** How long one start-up ping may take (nova-compute: 10 s). */
  pingTimeoutMs: number;
}

/** The Python class of a conductor-side failure, or undefined for anything else (timeouts, transport). */
export function remoteClass(err: unknown): string | undefined {
  return err instanceof RemoteError ? err.osloClass : undefined;
}

/** A conductor answer hostwall cannot read: as final as any Nova exception (a retry gets the same). */
function invalidReply(what: string, why: string): RemoteError {
  return new RemoteError({ class: 'InvalidReply', module: 'hostwall', message: `nova-conductor answered ${what} with something hostwall cannot read: ${why}`, tb: [], args: [], kwargs: {} });
}

export interface ActionResult {
  /** The primitive's data with the conductor's updates applied. */
  data: Record<string, unknown>;
  updates: Record<string, unknown>;
  result: unknown;
}

export class ConductorClient {
  constructor(
    private readonly rpc: RpcCaller,
    private readonly settings: ConductorSettings,
    private readonly log: Logger,
  ) {}

  /** One ping (`baseapi` 1.0); rejects on timeout or when no conductor listens. */
  async ping(): Promise<void> {
    await this.rpc.call(
      { topic: this.settings.topic },
      { method: 'ping', namespace: 'baseapi', version: '1.0', args: { arg: '1.21 GigaWatts' }, context: adminContext() },
      { timeoutMs: this.settings.pingTimeoutMs },
    );
  }

  /**
   * Ping until a conductor answers (nova-compute's wait_until_ready), saying
   * why every few attempts; gives up only when `stopped()` says so.
   */
  async waitUntilReady(stopped: () => boolean): Promise<boolean> {
    for (let attempt = 1; !stopped(); attempt++) {
      try {
        await this.ping();
        if (attempt > 1) this.log.info('nova-conductor answers', { attempts: attempt });
        return true;
      } catch (err) {
        this.log.warn('nova-conductor not ready yet: waiting for it (nova-compute waits too)', { attempt, error: String(err) });
        // A refused publish returns at once: do not spin.
        await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 10_000)));
      }
    }
    return false;
  }

  /** `<objname>.<objmethod>(*args, **kwargs)`, a classmethod run by the conductor. */
  classAction(context: NovaContext, objname: string, objmethod: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<unknown> {
    return this.call(context, 'object_class_action_versions', { objname, objmethod, object_versions: OBJECT_VERSIONS, args, kwargs });
  }

  /** classAction whose result must match `schema`; anything else is an InvalidReply RemoteError (final, not retried). */
  async classActionAs<S extends z.ZodType>(schema: S, context: NovaContext, objname: string, objmethod: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<z.output<S>> {
    const raw = await this.classAction(context, objname, objmethod, args, kwargs);
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw invalidReply(`${objname}.${objmethod}`, `${issue?.path.join('.') || '(result)'}: ${issue?.message ?? 'unexpected shape'}`);
  }

  /** `obj.<objmethod>(*args, **kwargs)` on the primitive, which names its changed fields. */
  async objectAction(context: NovaContext, objinst: NovaPrimitive, objmethod: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<ActionResult> {
    const reply = await this.call(context, 'object_action', { objinst, objmethod, args, kwargs });
    const parsed = ObjectActionReply.safeParse(reply);
    if (!parsed.success) throw invalidReply(`${objinst['nova_object.name']}.${objmethod}`, 'not [updates, result]');
    const [updates, result] = parsed.data;
    return { data: applyUpdates(objinst['nova_object.data'], updates), updates, result };
  }

  private async call(context: NovaContext, method: string, args: Record<string, unknown>): Promise<unknown> {
    const t0 = performance.now();
    try {
      return await this.rpc.call({ topic: this.settings.topic }, { method, args, version: CONDUCTOR_API_VERSION, context }, { timeoutMs: this.settings.timeoutMs });
    } finally {
      const inst = args.objinst as Record<string, unknown> | undefined;
      const what = method === 'object_action' ? `${String(inst?.['nova_object.name'])}.${String(args.objmethod)}` : `${String(args.objname)}.${String(args.objmethod)}`;
      this.log.debug('nova-conductor call', { call: what, ms: Math.round(performance.now() - t0), request_id: context.request_id });
    }
  }
}
