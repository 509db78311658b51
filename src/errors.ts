/**
 * Errors as typed values with stable string codes.
 *
 * Tiered by blast radius (after rabbitmq-client's exception.ts):
 * - RejectedError: the message itself is unacceptable (bad JSON, schema, version,
 *   issuer, size). Never retried; dead-lettered with its reason; a caller gets it
 *   as an oslo failure.
 * - IntentFailure: the intent was valid but could not be carried out (the guest is
 *   gone, libvirt refused, a port never became ready). Final; reported as
 *   intent.failed and Nova's `.error` notification.
 * - TransportError / ConfigError: the worker's own plumbing.
 * - PlacementError: OpenStack Placement (or the Keystone in front of it) did not
 *   do what the Nova adapter asked; `retryable` says whether asking again later
 *   can help.
 *
 * Each error also names the Python exception a real oslo.messaging caller sees
 * (`osloClass`/`osloModule`), so a RemoteError names the problem.
 */

export type RejectionCode =
  | 'NOT_JSON'
  | 'BAD_CONTENT_TYPE'
  | 'NOT_OSLO_ENVELOPE'
  | 'UNSUPPORTED_ENVELOPE'
  | 'INVALID_INTENT'
  | 'UNKNOWN_KIND'
  | 'UNSUPPORTED_VERSION'
  | 'ISSUER_REFUSED'
  | 'OVERSIZE'
  | 'POISON';

export type FailureCode =
  | 'INSTANCE_NOT_FOUND'
  | 'INSTANCE_EXISTS'
  | 'INVALID_STATE'
  | 'DEVICE_NOT_FOUND'
  | 'NOT_SUPPORTED'
  | 'LIBVIRT_ERROR'
  | 'PORT_WAIT_TIMEOUT'
  | 'PORT_FAILED'
  | 'TIMEOUT'
  | 'INTERRUPTED'
  | 'UNEXPECTED_TASK_STATE'
  | 'CONTROL_PLANE'
  | 'PATH_NOT_ALLOWED'
  | 'PATH_TIMEOUT'
  | 'HYPERVISOR_UNAVAILABLE'
  | 'INTERNAL';

export type PlacementErrorCode =
  | 'PLACEMENT_UNREACHABLE'
  | 'PLACEMENT_AUTH_FAILED'
  | 'PLACEMENT_HTTP_ERROR'
  | 'PLACEMENT_BAD_REPLY'
  | 'PLACEMENT_TOO_OLD'
  | 'PLACEMENT_GENERATION_CONFLICT'
  | 'PLACEMENT_NAME_CONFLICT'
  | 'PLACEMENT_UNKNOWN_TRAIT';

export type ErrorCode =
  | RejectionCode
  | FailureCode
  | PlacementErrorCode
  | 'TRANSPORT_ERROR'
  | 'QUEUE_TAKEN'
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'STORE_CLOSED'
  | 'CHECK_FAILED'
  | 'INVARIANT'
  | 'START_FAILED'
  | 'STOPPING';

interface OsloName {
  readonly osloClass: string;
  readonly osloModule: string;
}

export abstract class HostwallError extends Error implements OsloName {
  abstract readonly code: ErrorCode;
  readonly osloClass: string = 'HostwallError';
  readonly osloModule: string = 'hostwall.errors';
  /** Structured detail safe to publish (never secrets). */
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

const REJECTION_OSLO: Record<RejectionCode, OsloName> = {
  NOT_JSON: { osloClass: 'InvalidMessage', osloModule: 'hostwall.errors' },
  BAD_CONTENT_TYPE: { osloClass: 'InvalidMessage', osloModule: 'hostwall.errors' },
  NOT_OSLO_ENVELOPE: { osloClass: 'InvalidMessage', osloModule: 'hostwall.errors' },
  UNSUPPORTED_ENVELOPE: { osloClass: 'UnsupportedVersion', osloModule: 'oslo_messaging.rpc.dispatcher' },
  INVALID_INTENT: { osloClass: 'InvalidIntent', osloModule: 'hostwall.errors' },
  UNKNOWN_KIND: { osloClass: 'NoSuchMethod', osloModule: 'oslo_messaging.rpc.dispatcher' },
  UNSUPPORTED_VERSION: { osloClass: 'UnsupportedVersion', osloModule: 'oslo_messaging.rpc.dispatcher' },
  ISSUER_REFUSED: { osloClass: 'IssuerRefused', osloModule: 'hostwall.errors' },
  OVERSIZE: { osloClass: 'InvalidMessage', osloModule: 'hostwall.errors' },
  POISON: { osloClass: 'PoisonMessage', osloModule: 'hostwall.errors' },
};

/** The message is refused before any effect; it is dead-lettered with this reason. */
export class RejectedError extends HostwallError {
  readonly code: RejectionCode;
  override readonly osloClass: string;
  override readonly osloModule: string;
  constructor(code: RejectionCode, message: string, details: Record<string, unknown> = {}) {
    super(message, details);
    this.code = code;
    this.osloClass = REJECTION_OSLO[code].osloClass;
    this.osloModule = REJECTION_OSLO[code].osloModule;
  }
}

const FAILURE_OSLO: Record<FailureCode, string> = {
  INSTANCE_NOT_FOUND: 'InstanceNotFound',
  INSTANCE_EXISTS: 'InstanceExists',
  INVALID_STATE: 'InstanceInvalidState',
  DEVICE_NOT_FOUND: 'DeviceNotFound',
  NOT_SUPPORTED: 'NotSupported',
  LIBVIRT_ERROR: 'LibvirtError',
  PORT_WAIT_TIMEOUT: 'VirtualInterfaceCreateException',
  PORT_FAILED: 'VirtualInterfaceCreateException',
  TIMEOUT: 'Timeout',
  INTERRUPTED: 'InstanceInvalidState',
  UNEXPECTED_TASK_STATE: 'UnexpectedTaskStateError',
  CONTROL_PLANE: 'NovaControlPlaneError',
  PATH_NOT_ALLOWED: 'PathNotAllowed',
  PATH_TIMEOUT: 'PathTimeout',
  // Nova's own name for a hypervisor connection that is down (nova.exception.HypervisorUnavailable).
  HYPERVISOR_UNAVAILABLE: 'HypervisorUnavailable',
  INTERNAL: 'InternalError',
};

/** A valid intent that could not be carried out. */
export class IntentFailure extends HostwallError {
  readonly code: FailureCode;
  override readonly osloClass: string;
  constructor(code: FailureCode, message: string, details: Record<string, unknown> = {}) {
    super(message, details);
    this.code = code;
    this.osloClass = FAILURE_OSLO[code];
  }
}

/**
 * The hypervisor cannot be reached right now (libvirt connections lost and
 * being reopened). Nothing was changed; the same intent may succeed once the
 * driver is ready again: `details.retryable` is true.
 */
export class HypervisorUnavailable extends IntentFailure {
  readonly retryable = true;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('HYPERVISOR_UNAVAILABLE', message, { ...details, retryable: true });
  }
}

/** libvirt said no: carries libvirt's own error code, domain and message. */
export class LibvirtError extends IntentFailure {
  readonly libvirtCode: number;
  readonly libvirtDomain: number;
  constructor(code: FailureCode, libvirtCode: number, libvirtDomain: number, message: string) {
    super(code, message, { libvirt_code: libvirtCode, libvirt_domain: libvirtDomain });
    this.libvirtCode = libvirtCode;
    this.libvirtDomain = libvirtDomain;
  }
}

export class TransportError extends HostwallError {
  readonly code = 'TRANSPORT_ERROR' as const;
}

/**
 * A queue asked to be consumed exclusively has another consumer (another
 * worker for the same host, or any other consumer of its queue): the broker
 * refused this one. `details.queue` names it.
 */
export class QueueTakenError extends HostwallError {
  readonly code = 'QUEUE_TAKEN' as const;
}

/** A bad setting: the message is one line naming the setting. */
export class ConfigError extends HostwallError {
  readonly code = 'CONFIG_INVALID' as const;
}

/** A command given wrong: an option that is not JSON, a value out of range. One line naming the option. */
export class UsageError extends HostwallError {
  readonly code = 'USAGE' as const;
}

/** The intent store was closed (the worker is stopping): nothing was written. */
export class StoreClosedError extends HostwallError {
  readonly code = 'STORE_CLOSED' as const;
}

/** A check a command makes of what it did (the demo's story, a replay's answers) did not hold. */
export class CheckFailed extends HostwallError {
  readonly code = 'CHECK_FAILED' as const;
}

/** Something the code guarantees did not hold: a bug in hostwall, never the input's fault. */
export class InvariantError extends HostwallError {
  readonly code = 'INVARIANT' as const;
}

/**
 * The worker could not start: `details.step` names the step that failed
 * (worker.ts StartStep), `cause` is what it threw. What had started was
 * stopped again, in reverse order.
 */
export class StartFailure extends HostwallError {
  readonly code = 'START_FAILED' as const;
}

/**
 * A wait cut short because the worker is stopping and its grace period is
 * over (a clean power-off, a hot-unplug, a spawn's port wait). Not an
 * outcome: nothing final happened, so the intent is left unacked for
 * redelivery and its 'started' record is reconciled at the next start, as
 * after a crash (dispatch/recovery.ts).
 */
export class StoppingError extends HostwallError {
  readonly code = 'STOPPING' as const;
}

/**
 * The exit code of a command that failed with `err` (README "Exit codes"):
 * 2 for what the operator must fix in the command or its configuration, 1
 * for anything that went wrong while doing it.
 */
export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof ConfigError || err instanceof UsageError ? 2 : 1;
}

export interface PlacementErrorDetails {
  /** The HTTP status Placement (or Keystone) answered, when it answered. */
  status?: number | undefined;
  /** Placement's error code, `errors[0].code` of the reply (microversion >= 1.23 only). */
  placementCode?: string | undefined;
  /** The request, as "<METHOD> <path>" (never a token or a body). */
  request?: string | undefined;
  /** Placement's x-openstack-request-id of the reply, to find it in Placement's log. */
  placementRequestId?: string | undefined;
}

/**
 * Placement (or Keystone in front of it) did not do what was asked. The
 * message names the request and what came back, never a password or token.
 * Codes: UNREACHABLE (refused, reset, timed out, after the retries that were
 * safe), AUTH_FAILED (Keystone refused the credentials, no Placement endpoint
 * in the catalog, or a 401 after authenticating again), HTTP_ERROR (an error
 * status), BAD_REPLY (a success that is not JSON or not the API's shape),
 * TOO_OLD (the server's microversions stop below what hostwall sends),
 * GENERATION_CONFLICT (the provider kept changing under us), NAME_CONFLICT
 * (another provider already has this host's name: an operator must remove the
 * stale one), UNKNOWN_TRAIT (a standard trait this Placement does not know).
 */
export class PlacementError extends HostwallError {
  readonly code: PlacementErrorCode;
  readonly status: number | undefined;
  readonly placementCode: string | undefined;
  constructor(code: PlacementErrorCode, message: string, facts: PlacementErrorDetails = {}) {
    super(message, {
      ...(facts.status !== undefined ? { status: facts.status } : {}),
      ...(facts.placementCode !== undefined ? { placement_code: facts.placementCode } : {}),
      ...(facts.request !== undefined ? { request: facts.request } : {}),
      ...(facts.placementRequestId !== undefined ? { placement_request_id: facts.placementRequestId } : {}),
    });
    this.code = code;
    this.status = facts.status;
    this.placementCode = facts.placementCode;
  }

  /** Whether the same call later can succeed without anyone changing anything. */
  get retryable(): boolean {
    if (this.code === 'PLACEMENT_UNREACHABLE' || this.code === 'PLACEMENT_GENERATION_CONFLICT') return true;
    return this.code === 'PLACEMENT_HTTP_ERROR' && this.status !== undefined && this.status >= 500;
  }
}

/** Anything thrown that is not ours becomes an INTERNAL failure, message kept. */
export function asHostwallError(err: unknown): HostwallError {
  if (err instanceof HostwallError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new IntentFailure('INTERNAL', message);
}
