/**
 * Version negotiation with oslo.messaging's rule (rpc/dispatcher.py,
 * _utils.version_is_compatible): same major, requested minor not newer than
 * the one served. A missing version means "1.0", as oslo treats it.
 *
 * Hostwall then validates the args by the schema of the minor the message
 * names (kinds.ts): a 1.0 message may not use a field 1.1 added, and is told
 * which version it needs if it does.
 */
import { RejectedError } from '../errors';
import { INTENT_SCHEMAS, isIntentKind, type Intent, type IntentKind } from './kinds';
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

const text = (v: ParsedVersion) => `${v.major}.${v.minor}`;

/** Per major, the highest minor served: what a refusal lists. */
function served(versions: readonly KindVersion[]): KindVersion[] {
  const top = new Map<number, KindVersion>();
  for (const v of versions) if ((top.get(v.major)?.minor ?? -1) < v.minor) top.set(v.major, v);
  return [...top.values()];
}

/**
 * The published version whose schema validates a message naming `requested`:
 * the highest minor of its major not above the requested one. Refuses an
 * unknown kind (NoSuchMethod), and an unknown major or a minor above the
 * highest served (UnsupportedVersion).
 */
export function selectVersion(kind: string, requested: string | undefined | null): KindVersion {
  if (!isIntentKind(kind)) {
    throw new RejectedError('UNKNOWN_KIND', `Endpoint does not support RPC method ${kind}`, { method: kind });
  }
  const versions = REGISTRY.get(kind)?.versions ?? [];
  const want = parseVersion(requested);
  const sameMajor = versions.filter((v) => v.major === want.major);
  const highest = served(sameMajor)[0];
  const chosen = sameMajor.filter((v) => v.minor <= want.minor).sort((a, b) => b.minor - a.minor)[0];
  if (!highest || want.minor > highest.minor || !chosen) {
    const have = served(versions).map(text).join(', ') || 'none';
    throw new RejectedError(
      'UNSUPPORTED_VERSION',
      `Endpoint does not support RPC version ${text(want)}. Attempted method: ${kind} (served: ${have})`,
      { method: kind, version: text(want), served: have },
    );
  }
  return chosen;
}

/** The newest version of a kind ("1.1"): what a sender that uses every field names. */
export function currentVersion(kind: IntentKind): string {
  const versions = REGISTRY.get(kind)?.versions ?? [];
  const newest = versions[versions.length - 1];
  return newest ? text(newest) : '1.0';
}

/**
 * Turn an oslo request's method/version/args into a validated intent, or throw a
 * RejectedError naming the first problem (path and message from zod).
 */
export function validateIntent(kind: string, version: string | undefined | null, args: unknown): Intent {
  const chosen = selectVersion(kind, version);
  const result = chosen.schema.safeParse(args);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => {
      const path = i.path.length ? i.path.join('.') : '(args)';
      return `${path}: ${i.message}`;
    });
    // Fields of a later minor sent under an older one: say which version would take them.
    const newer = isIntentKind(kind) && chosen.schema !== INTENT_SCHEMAS[kind] && INTENT_SCHEMAS[kind].safeParse(args).success;
    const hint = newer ? ` (these args are valid for ${kind} ${currentVersion(kind)}: send that version)` : '';
    throw new RejectedError('INVALID_INTENT', `invalid ${kind} ${text(chosen)}: ${issues.join('; ')}${hint}`, {
      method: kind,
      issues,
    });
  }
  // The schema chosen belongs to `kind`, so the parsed value has that kind's shape.
  return { kind, args: result.data } as Intent;
}
