/**
 * Errors of the control-plane harness, typed by a stable code like
 * src/errors.ts (whose codes are the worker's own: the harness does not add
 * test-only codes there).
 *
 * PACKAGES_UNAVAILABLE is the one condition a compatibility test may skip on
 * (the Debian packages cannot be installed: no network to Debian); every
 * other code is a failure.
 */
export type ControlPlaneErrorCode =
  | 'PACKAGES_UNAVAILABLE'
  | 'SCRIPT_FAILED'
  | 'HTTP_STATUS'
  | 'HTTP_TIMEOUT'
  | 'BAD_REPLY'
  | 'WAIT_TIMEOUT'
  | 'SERVER_ERROR_STATE';

export class ControlPlaneError extends Error {
  readonly code: ControlPlaneErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ControlPlaneErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ControlPlaneError';
    this.code = code;
    this.details = details;
  }
}
