/**
 * oslo.messaging's serialized exception (`failure` of an RPC reply; common.py
 * serialize_remote_exception / deserialize_remote_exception), docs/oslo-wire.md#failures.
 *
 * `failure` is a JSON *string* {class, module, message, tb, args, kwargs}.
 * A Python caller re-raises it as the named class when `module` is
 * builtins or in its allowed_remote_exmods and `class(*args, **kwargs)`
 * builds; otherwise it raises oslo_messaging.RemoteError(exc_type=class,
 * value=message, traceback=tb). Hostwall errors name their own module
 * (hostwall.errors), or oslo_messaging.rpc.dispatcher for UnsupportedVersion /
 * NoSuchMethod, so callers see a RemoteError whose exc_type names the problem.
 */
import { z } from 'zod';
import { asHostwallError, RejectedError } from '../errors';
import { isJsonObject, pythonJson } from './envelope';

export const FailureSchema = z.object({
  class: z.string(),
  module: z.string(),
  message: z.string().default(''),
  tb: z.array(z.string()).default([]),
  args: z.array(z.unknown()).default([]),
  kwargs: z.record(z.string(), z.unknown()).default({}),
});
export type Failure = z.output<typeof FailureSchema>;

/** Anything that names its oslo class: a HostwallError, or the dispatcher's ErrorInfo. */
export interface FailureSource {
  code: string;
  message: string;
  osloClass: string;
  osloModule: string;
  details: Record<string, unknown>;
  stack?: string | undefined;
}

function isFailureSource(v: unknown): v is FailureSource {
  return (
    isJsonObject(v) &&
    typeof v.code === 'string' &&
    typeof v.message === 'string' &&
    typeof v.osloClass === 'string' &&
    typeof v.osloModule === 'string' &&
    isJsonObject(v.details)
  );
}

/** Keys never published in kwargs, wherever they sit (tokens, passwords, keys). */
const SECRET_KEY = /(pass(word|wd)?$|secret|token|credential|keyring|^key$|auth_key|private_key|_password$)/i;

/** A JSON-safe copy without secret-looking keys; depth-limited so a cycle cannot hang us. */
export function safeDetails(value: unknown, depth = 0): unknown {
  if (depth > 8) return '…';
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map((v) => safeDetails(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (isJsonObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!SECRET_KEY.test(k) && v !== undefined && typeof v !== 'function') out[k] = safeDetails(v, depth + 1);
    }
    return out;
  }
  return undefined;
}

const MAX_FRAMES = 15;

/** A Python-looking traceback list: header, the JS frames (if any), then "Class: message". */
function tracebackLines(src: FailureSource, stack: string | undefined): string[] {
  const frames = stack ? stack.split('\n').filter((l) => /^\s+at /.test(l)).slice(0, MAX_FRAMES) : [];
  return ['Traceback (most recent call last):\n', ...frames.map((f) => `  ${f.trim()}\n`), `${src.osloClass}: ${src.message}\n`];
}

/** The `failure` object for an error (not yet JSON-encoded). Non-hostwall errors become INTERNAL failures. */
export function failureOf(err: unknown, opts: { traceback?: boolean } = {}): Failure {
  const src: FailureSource = isFailureSource(err) ? err : asHostwallError(err);
  const details = safeDetails(src.details);
  const kwargs = { ...(isJsonObject(details) ? details : {}), code: src.code };
  return {
    class: src.osloClass,
    module: src.osloModule,
    message: src.message,
    // A refusal is about the message, not our code: its JS stack would only be noise.
    // The stack of the original error (a foreign one is wrapped as INTERNAL, keep where it came from).
    tb: tracebackLines(src, (opts.traceback ?? !(err instanceof RejectedError)) && err instanceof Error ? err.stack : undefined),
    args: [src.message],
    kwargs,
  };
}

/** The reply's `failure` field: the failure object as a JSON string (Python json style). */
export function serializeFailure(err: unknown, opts: { traceback?: boolean } = {}): string {
  return pythonJson(failureOf(err, opts));
}

/**
 * A failure received in a reply (hostwall's own `call`). `code` is the
 * hostwall error code when the remote end is hostwall (kwargs.code).
 */
export class RemoteError extends Error {
  readonly osloClass: string;
  readonly osloModule: string;
  readonly remoteMessage: string;
  readonly traceback: string[];
  readonly remoteArgs: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly code: string | undefined;
  constructor(f: Failure) {
    super(`${f.class}: ${f.message}`);
    this.name = 'RemoteError';
    this.osloClass = f.class;
    this.osloModule = f.module;
    this.remoteMessage = f.message;
    this.traceback = f.tb;
    this.remoteArgs = f.args;
    this.kwargs = f.kwargs;
    this.code = typeof f.kwargs.code === 'string' ? f.kwargs.code : undefined;
  }
}

/** Decode a reply's `failure` string. Never throws: an unreadable failure still is a failure. */
export function deserializeFailure(failure: string): RemoteError {
  let raw: unknown;
  try {
    raw = JSON.parse(failure);
  } catch {
    raw = undefined;
  }
  const parsed = FailureSchema.safeParse(raw);
  if (parsed.success) return new RemoteError(parsed.data);
  return new RemoteError({ class: 'RemoteError', module: 'oslo_messaging', message: failure, tb: [], args: [failure], kwargs: {} });
}
