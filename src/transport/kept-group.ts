/**
 * The lifecycle both transports' consumer groups share: the first attach,
 * `consuming`, recovery after a loss (resubscribe.ts: backoff, wait for the
 * connection, re-declare, attach again), and the state checks of cancel and
 * close. What an attach is (a channel with consumers, a session with
 * receiving links) and how deliveries are stopped or the generation ended
 * is the protocol's: the abstract members below.
 */
import type { ResubscribeTiming } from './resubscribe';
import { resubscribe } from './resubscribe';
import { Sleeper } from './timing';

export type GroupState = 'starting' | 'running' | 'cancelled' | 'closed';

/** The group's view of its transport's kept connection. */
export interface GroupConnection<Live> {
  whenUp(timeoutMs: number): Promise<Live>;
  readonly isClosed: boolean;
}

/** One channel's (session's) lifetime: open until it is lost or ended. */
export interface GroupGeneration {
  open: boolean;
}

export abstract class KeptGroup<Live, G extends GroupGeneration> {
  protected state: GroupState = 'starting';
  protected gen: G | undefined;
  private recovering: Promise<void> | undefined;
  private readonly sleeper = new Sleeper();

  constructor(
    readonly queues: readonly string[],
    private readonly conn: GroupConnection<Live>,
    private readonly timing: ResubscribeTiming & { operationTimeoutMs: number },
    /** Names the group in the resubscribe log lines. */
    private readonly logMeta: Record<string, unknown>,
  ) {}

  /** Attach on `live`; sets `gen` once attached. Throws (and consumes nothing) if a queue is missing or the broker refuses. */
  protected abstract attach(live: Live): Promise<void>;
  /** Declare the transport's remembered topology again (after a loss, before attaching). */
  protected abstract redeclare(live: Live): Promise<void>;
  /** cancel(): stop new deliveries on the open generation, keeping it so in-flight messages can still be settled. */
  protected abstract stopDeliveries(gen: G): Promise<void>;
  /** close(): end the open generation; unsettled messages go back to their queues. */
  protected abstract endGeneration(gen: G): Promise<void>;

  /** First attach. Throws (and consumes nothing) if a queue is missing or the broker refuses. */
  async start(): Promise<void> {
    const live = await this.conn.whenUp(this.timing.operationTimeoutMs);
    await this.attach(live);
    if (this.state === 'starting') this.state = 'running';
  }

  /** Attached on a live channel (session) and not cancelled: its messages are being delivered. */
  get consuming(): boolean {
    return this.state === 'running' && this.gen?.open === true;
  }

  /** Make sure the group is consuming on the current connection (called when a connection comes up). */
  kick(): void {
    if (this.state !== 'running' || this.gen?.open || this.recovering) return;
    this.recovering = this.recover().finally(() => {
      this.recovering = undefined;
    });
  }

  private recover(): Promise<void> {
    const { conn } = this;
    return resubscribe<Live>({
      wanted: () => this.state === 'running',
      attached: () => this.gen?.open === true,
      whenUp: (ms) => conn.whenUp(ms),
      connectionClosed: () => conn.isClosed,
      resume: async (live) => {
        await this.redeclare(live);
        await this.attach(live);
      },
    }, this.sleeper, this.timing, this.logMeta);
  }

  /** Stop new deliveries; what was delivered can still be settled. */
  async cancel(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'cancelled';
    this.sleeper.cancel();
    const gen = this.gen;
    if (!gen?.open) return;
    await this.stopDeliveries(gen);
  }

  /** End the generation: unsettled messages go back to their queues. */
  async close(): Promise<void> {
    this.state = 'closed';
    this.sleeper.cancel();
    const gen = this.gen;
    this.gen = undefined;
    if (!gen?.open) return;
    await this.endGeneration(gen);
  }
}
