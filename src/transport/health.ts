/**
 * A transport's health as /readyz and /metrics read it, from what both
 * transports keep alike: the connection (current, generation, the host it
 * reached) and their consumer groups.
 */
import type { TransportHealth } from './transport';

export function transportHealth(
  conn: { readonly current: unknown; readonly generation: number; readonly connectedTo: string | undefined },
  groups: readonly { readonly consuming: boolean }[],
): TransportHealth {
  return {
    connected: conn.current !== undefined,
    consuming: groups.length > 0 && groups.every((g) => g.consuming),
    reconnects: Math.max(0, conn.generation - 1),
    broker: conn.connectedTo,
  };
}
