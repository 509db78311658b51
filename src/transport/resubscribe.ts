/**
 * The loop both transports' consumer groups run after losing their channel
 * (0-9-1) or session (1.0): wait with backoff, wait for the connection (its
 * own loop reconnects), declare the topology again, attach again; until
 * attached, cancelled, or the connection is closed for good. Nothing is
 * delivered between a loss and the attach: unsettled messages of the lost
 * channel or session are the broker's to redeliver.
 */
import type { TransportLog } from './common-options';
import { backoffDelayMs, errorText, type Sleeper } from './timing';

export interface ResubscribeSteps<Live> {
  /** Still consuming (not cancelled or closed): stop retrying once false. */
  wanted(): boolean;
  /** Attached again meanwhile (a kick from a new connection won the race). */
  attached(): boolean;
  /** The live connection, or a rejection after `ms` (still down). */
  whenUp(ms: number): Promise<Live>;
  /** The connection was closed for good: nothing to wait for. */
  connectionClosed(): boolean;
  /** Declare the transport's remembered topology again, then attach; throws to be retried. */
  resume(live: Live): Promise<void>;
}

export interface ResubscribeTiming {
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: TransportLog;
}

/** Resolves when attached again or no longer wanted; never rejects. `meta` names the group in log lines. */
export async function resubscribe<Live>(steps: ResubscribeSteps<Live>, sleeper: Sleeper, o: ResubscribeTiming, meta: Record<string, unknown>): Promise<void> {
  for (let attempt = 0; steps.wanted(); attempt++) {
    if (attempt > 0 && !(await sleeper.sleep(backoffDelayMs(attempt - 1, o.reconnectMinMs, o.reconnectMaxMs)))) return;
    if (steps.attached()) return;
    let live: Live;
    try {
      live = await steps.whenUp(o.reconnectMaxMs);
    } catch {
      if (steps.connectionClosed()) return;
      continue; // still down: the connection loop is on it
    }
    try {
      await steps.resume(live);
      o.log('info', 'consumers resumed', { ...meta, attempt });
      return;
    } catch (err) {
      o.log('warn', 'resuming consumers failed; retrying', { ...meta, error: errorText(err), attempt });
    }
  }
}
