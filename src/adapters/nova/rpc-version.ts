/**
 * Which compute RPC API versions hostwall answers to, by oslo's rule (same
 * major, requested minor not newer than the one served).
 *
 * Zed's ComputeManager serves 6.1 and, through _ComputeV5Proxy, 5.13
 * (compute/manager.py). What a Zed ComputeAPI client actually sends:
 * - unpinned, or pinned to zed/yoga/xena/wallaby: "6.0" for every method
 *   hostwall translates (`_ver()` returns "6.0" whenever it may; only
 *   rebuild_instance sends 6.1);
 * - pinned below 6.0 during a rolling upgrade: the 5.x form, "5.0" for most
 *   methods and "5.11" for build_and_run_instance (5.0, without accel_uuids,
 *   below ussuri). The arguments of the methods hostwall serves are the same
 *   in 5.x and 6.x, so both majors share one translation.
 * Anything else (4.x, 6.2+ from a newer Nova, no version = "1.0") is refused
 * as UnsupportedVersion, as a Zed nova-compute would.
 */
import { RejectedError } from '../../errors';

/** Highest minor served per major. */
export const NOVA_COMPUTE_RPC_SERVED: Readonly<Record<number, number>> = { 5: 13, 6: 1 };

export function checkNovaRpcVersion(method: string, version: string | undefined | null): { major: number; minor: number } {
  const text = version ?? '1.0';
  const m = /^(\d{1,4})\.(\d{1,4})$/.exec(text);
  const major = m ? Number(m[1]) : Number.NaN;
  const minor = m ? Number(m[2]) : Number.NaN;
  const highest = NOVA_COMPUTE_RPC_SERVED[major];
  if (highest === undefined || !(minor <= highest)) {
    const served = Object.entries(NOVA_COMPUTE_RPC_SERVED).map(([a, b]) => `${a}.${b}`).join(', ');
    throw new RejectedError(
      'UNSUPPORTED_VERSION',
      `Endpoint does not support RPC version ${text}. Attempted method: ${method} (Nova compute RPC served: ${served})`,
      { method, version: text, served },
    );
  }
  return { major, minor };
}
