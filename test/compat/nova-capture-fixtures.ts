/**
 * Golden Nova compute RPC fixtures: what Debian's real Nova 26.2.2 (Zed) sent,
 * captured by test/compat/nova-capture.test.ts through a real broker.
 *
 * Layout (relative to test/fixtures/nova/):
 *   <method>[.<variant>].json                  a Zed client ([upgrade_levels]compute=zed): version 6.0
 *   pinned-victoria/<method>[.<variant>].json  pinned to victoria (5.12): the 5.x forms (5.0, build 5.11)
 *   pinned-train/<method>.json                 pinned to train (5.3): build_and_run_instance 5.0, no accel_uuids
 *
 * Volatile ids are normalised: `_unique_id`, `_msg_id`, `_reply_q` become
 * placeholders, and every `nova_object.changes` list is sorted (Python set order).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const NOVA_FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'nova');

export const PIN_DIRS: Readonly<Record<string, string>> = { zed: '', victoria: 'pinned-victoria', train: 'pinned-train' };

export interface NovaFixture {
  _comment: string;
  method: string;
  variant: string | null;
  upgrade_levels_compute: string;
  call: boolean;
  exchange: string;
  routing_key: string;
  expiration: string | null;
  'oslo.version': string;
  /** The inner oslo.message, normalised. */
  message: Record<string, unknown> & { method: string; version?: string; args: Record<string, unknown>; _unique_id: string };
}

export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  _unique_id: '<unique_id>',
  _msg_id: '<msg_id>',
  _reply_q: '<reply_q>',
};

/** Deep copy with `nova_object.changes` sorted, so a fixture does not depend on Python's hash seed. */
export function sortChanges(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortChanges);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'nova_object.changes' && Array.isArray(v) ? [...v].map(String).sort() : sortChanges(v);
  }
  return out;
}

export function normaliseMessage(message: Record<string, unknown>): Record<string, unknown> {
  const out = sortChanges(message) as Record<string, unknown>;
  for (const [key, placeholder] of Object.entries(PLACEHOLDERS)) if (key in out) out[key] = placeholder;
  return out;
}

export function fixturePath(pin: string, name: string): string {
  return join(NOVA_FIXTURES, PIN_DIRS[pin] ?? `pinned-${pin}`, `${name}.json`);
}

function walk(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.json') ? [p] : [];
  });
}

/** Every fixture on disk, keyed by its path relative to test/fixtures/nova (e.g. "pinned-victoria/stop_instance.json"). */
export function loadNovaFixtures(): Map<string, NovaFixture> {
  const out = new Map<string, NovaFixture>();
  for (const p of walk(NOVA_FIXTURES).sort()) out.set(relative(NOVA_FIXTURES, p), JSON.parse(readFileSync(p, 'utf8')) as NovaFixture);
  return out;
}
