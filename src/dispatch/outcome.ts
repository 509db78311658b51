/**
 * The final word on one intent: what the dispatcher publishes, answers and
 * records in the intent store. A handler's result or error becomes one of
 * these; the transport settlement follows from it. Defined by zod because it
 * is also read back from the store (and must be checked when it is).
 */
import { z } from 'zod';
import type { HostwallError } from '../errors';
import type { InstanceView } from '../host-state/instance-view';

export const ErrorInfoSchema = z.object({
  code: z.string(),
  message: z.string(),
  osloClass: z.string(),
  osloModule: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Instance views are built by the dispatcher; read back from the store they are only checked to be an object. */
const Instance = z.custom<InstanceView>(isObject).optional();

export const FinalOutcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('succeeded'), intentId: z.string(), kind: z.string(), result: z.unknown(), instance: Instance }),
  z.object({ status: z.literal('failed'), intentId: z.string(), kind: z.string(), error: ErrorInfoSchema, instance: Instance }),
]);
export type FinalOutcome = z.infer<typeof FinalOutcomeSchema>;

export function errorInfo(err: HostwallError): ErrorInfo {
  return { code: err.code, message: err.message, osloClass: err.osloClass, osloModule: err.osloModule, details: err.details };
}
