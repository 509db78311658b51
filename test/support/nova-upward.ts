/**
 * The captured upward traffic of a real nova-compute (test/fixtures/nova-upward/)
 * and a scripted conductor that answers hostwall's calls from it, so unit
 * tests can compare what hostwall sends with what nova-compute sent.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireRequest } from '../../src/dispatch/ports';
import { deserializeFailure } from '../../src/oslo/failure';
import type { RpcCallOptions, RpcCaller, RpcRequestSpec, RpcTarget } from '../../src/oslo/rpc-client';
import { parseRpcRequest } from '../../src/oslo/rpc-request';

const DIR = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'nova-upward');

export interface CapturedCall {
  group: string;
  label: string;
  method: string;
  msg: { args: Record<string, unknown>; [k: string]: unknown };
  reply: { result: unknown; failure: string | null };
}

export interface CapturedReceived {
  method: string;
  msg: Record<string, unknown>;
}

function read<T>(file: string): T {
  return JSON.parse(readFileSync(join(DIR, file), 'utf8')) as T;
}

/** The conductor calls of the first start (or `restart/`). */
export function conductorCalls(restart = false): CapturedCall[] {
  return read<CapturedCall[]>(restart ? 'restart/rpc_compute_to_conductor.json' : 'rpc_compute_to_conductor.json');
}

/** The casts nova-compute received (build_and_run_instance, stop_instance, ...), as the worker's wire decodes them. */
export function receivedRequest(method: string): WireRequest {
  const found = read<CapturedReceived[]>('rpc_compute_received.json').find((c) => c.method === method);
  if (!found) throw new Error(`no captured ${method}`);
  const r = parseRpcRequest(found.msg);
  return { method: r.method, namespace: r.namespace, version: r.version, args: r.args, uniqueId: r.uniqueId, context: r.context, call: r.call };
}

/** "Service.create", "InstanceActionEvent.event_start", "ping": what a conductor request does. */
export function labelOf(req: RpcRequestSpec): string {
  const a = req.args;
  if (req.method === 'object_class_action_versions') return `${String(a.objname)}.${String(a.objmethod)}`;
  if (req.method === 'object_action') {
    const inst = a.objinst as Record<string, unknown>;
    return `${String(inst['nova_object.name'])}.${String(a.objmethod)}`;
  }
  return req.method;
}

export interface Sent {
  target: RpcTarget;
  req: RpcRequestSpec;
  label: string;
}

export type Answer = { result: unknown } | { failure: string } | { error: Error };

/**
 * An RpcCaller that records every request and answers each call with
 * `answer(label, req)` (a captured reply, a failure string as oslo sends
 * it, or an error to throw, e.g. a timeout).
 */
export class ScriptedRpc implements RpcCaller {
  readonly calls: Sent[] = [];
  readonly casts: Sent[] = [];

  constructor(private readonly answer: (label: string, req: RpcRequestSpec, n: number) => Answer) {}

  async call(target: RpcTarget, req: RpcRequestSpec, _o: RpcCallOptions): Promise<unknown> {
    const label = labelOf(req);
    this.calls.push({ target, req, label });
    const a = this.answer(label, req, this.calls.filter((c) => c.label === label).length);
    if ('error' in a) throw a.error;
    if ('failure' in a) throw deserializeFailure(a.failure);
    return a.result;
  }

  async cast(target: RpcTarget, req: RpcRequestSpec): Promise<{ uniqueId: string }> {
    this.casts.push({ target, req, label: labelOf(req) });
    return { uniqueId: 'scripted' };
  }

  labels(): string[] {
    return this.calls.map((c) => c.label);
  }

  /** The objinst changes of each object action, by label. */
  objectActions(label: string): { changes: string[]; data: Record<string, unknown>; kwargs: Record<string, unknown> }[] {
    return this.calls
      .filter((c) => c.label === label && c.req.method === 'object_action')
      .map((c) => {
        const inst = c.req.args.objinst as Record<string, unknown>;
        return {
          changes: [...((inst['nova_object.changes'] as string[] | undefined) ?? [])].sort(),
          data: inst['nova_object.data'] as Record<string, unknown>,
          kwargs: c.req.args.kwargs as Record<string, unknown>,
        };
      });
  }
}

/** The captured reply of the n-th call (1-based) with this label in `calls`, as an Answer. */
export function capturedAnswer(calls: CapturedCall[], label: string, n = 1): Answer {
  const found = calls.filter((c) => c.label.split(' ')[0] === label)[n - 1];
  if (!found) throw new Error(`no captured reply #${n} for ${label}`);
  return found.reply.failure ? { failure: found.reply.failure } : { result: found.reply.result };
}

/** The captured conductor calls of one group (startup, boot, stop, start, delete), labels without their "changes=" suffix. */
export function groupCalls(calls: CapturedCall[], group: string): CapturedCall[] {
  return calls.filter((c) => c.group === group).map((c) => ({ ...c, label: c.label.split(' ')[0] ?? c.label }));
}
