/**
 * Nova's RequestContext as it travels in `_context_*` fields
 * (nova.context.RequestContext.to_dict, packed by oslo's pack_context).
 *
 * Two kinds reach the conductor from a compute host:
 * - the context of the request being served (a cast from nova-api or the
 *   conductor), passed on unchanged: its `request_id` is what ties
 *   InstanceActionEvent records to the action the API created;
 * - an admin context of the host's own, for start-up and periodic work
 *   (nova.context.get_admin_context): no user, a fresh request id.
 */
import { randomUUID } from 'node:crypto';

export type NovaContext = Readonly<Record<string, unknown>>;

/** Python's datetime.isoformat() of a naive UTC time, as RequestContext.to_dict writes `timestamp`. */
export function pythonUtcNow(d: Date = new Date()): string {
  return `${d.toISOString().slice(0, 23)}000`;
}

export function newRequestId(): string {
  return `req-${randomUUID()}`;
}

/** nova.context.get_admin_context(), as a Zed compute sends it (captured: `ping`, periodic tasks). */
export function adminContext(requestId: string = newRequestId()): NovaContext {
  return {
    auth_token: null, domain: null, global_request_id: null, is_admin: true, is_admin_project: true,
    project: null, project_domain: null, project_id: null, project_name: null, quota_class: null,
    read_deleted: 'no', read_only: false, remote_address: null, request_id: requestId, resource_uuid: null,
    roles: [], service_catalog: [], show_deleted: false, system_scope: null, timestamp: pythonUtcNow(),
    user: null, user_domain: null, user_id: null, user_identity: '- - - - -', user_name: null,
  };
}

/**
 * The context of a request being served, elevated as nova-compute elevates it
 * for its own bookkeeping (context.elevated(): is_admin, 'admin' role added);
 * request and user identity unchanged.
 */
export function servedContext(context: Readonly<Record<string, unknown>>): NovaContext {
  const roles = Array.isArray(context.roles) ? context.roles.filter((r): r is string => typeof r === 'string') : [];
  return { ...context, is_admin: true, roles: roles.includes('admin') ? roles : [...roles, 'admin'] };
}

/** The request id of a context, for logs. */
export function requestIdOf(context: NovaContext): string | undefined {
  return typeof context.request_id === 'string' ? context.request_id : undefined;
}
