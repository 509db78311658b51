/**
 * The final word on one intent: what the dispatcher publishes, answers and
 * remembers. A handler's result or error becomes one of these; the transport
 * settlement follows from it.
 */
import type { HostwallError } from '../errors';
import type { InstanceFacts } from '../events/instance-facts';

export interface ErrorInfo {
  code: string;
  message: string;
  osloClass: string;
  osloModule: string;
  details: Record<string, unknown>;
}

export type FinalOutcome =
  | { status: 'succeeded'; intentId: string; kind: string; result: unknown; instance: InstanceFacts | undefined }
  | { status: 'failed'; intentId: string; kind: string; error: ErrorInfo; instance: InstanceFacts | undefined };

export function errorInfo(err: HostwallError): ErrorInfo {
  return { code: err.code, message: err.message, osloClass: err.osloClass, osloModule: err.osloModule, details: err.details };
}
