/**
 * Version negotiation with oslo.messaging's rule (rpc/dispatcher.py,
 * _utils.version_is_compatible): same major, requested minor not newer than
 * the one served. A missing version means "1.0", as oslo treats it.
 */
import { RejectedError } from '../errors';
import { INTENT_SCHEMAS, isIntentKind, type Intent } from './kinds';
import { REGISTRY, type KindVersion } from './registry';

export const INTENT_NAMESPACE = 'hostwall';

export interface ParsedVersion {
  major: number;
  minor: number;
}

export function parseVersion(v: string | undefined | null): ParsedVersion {
  const text = v ?? '1.0';
  const m = /^(\d{1,4})\.(\d{1,4})$/.exec(text);
  if (!m) throw new RejectedError('UNSUPPORTED_VERSION', `Endpoint does not support RPC version ${text}`, { version: text });
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function selectVersion(kind: string, requested: string | undefined | null): KindVersion {
  if (!isIntentKind(kind)) {
    throw new RejectedError('UNKNOWN_KIND', `Endpoint does not support RPC method ${kind}`, { method: kind });
  }
  const def = REGISTRY.get(kind);
  const want = parseVersion(requested);
  const served = def?.versions.find((v) => v.major === want.major);
  if (!served || want.minor > served.minor) {
    const text = `${want.major}.${want.minor}`;
    const have = def?.versions.map((v) => `${v.major}.${v.minor}`).join(', ') ?? 'none';
    throw new RejectedError(
      'UNSUPPORTED_VERSION',
      `Endpoint does not support RPC version ${text}. Attempted method: ${kind} (served: ${have})`,
      { method: kind, version: text, served: have },
    );
  }
  return served;
}

/**
 * Turn an oslo request's method/version/args into a validated intent, or throw a
 * RejectedError naming the first problem (path and message from zod).
 */
export function validateIntent(kind: string, version: string | undefined | null, args: unknown): Intent {
  const served = selectVersion(kind, version);
  const result = served.schema.safeParse(args);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => {
      const path = i.path.length ? i.path.join('.') : '(args)';
      return `${path}: ${i.message}`;
    });
    throw new RejectedError('INVALID_INTENT', `invalid ${kind} ${served.major}.${served.minor}: ${issues.join('; ')}`, {
      method: kind,
      issues,
    });
  }
  // The schema chosen belongs to `kind`, so the parsed value has that kind's shape.
  return { kind, args: result.data } as Intent;
}

/** Validate locally without a version (CLI send/call): the current schema. */
export function schemaFor(kind: string) {
  return isIntentKind(kind) ? INTENT_SCHEMAS[kind] : undefined;
}
