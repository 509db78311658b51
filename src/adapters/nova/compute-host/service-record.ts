/**
 * The compute service's row in Nova's database (`services`, binary
 * nova-compute), which is what makes the scheduler and the API count this
 * host: created at the first start, reused after a restart (the version
 * brought up to Zed's if it was older), and kept "up" by saving a growing
 * `report_count` every `report_interval` (nova.servicegroup.drivers.db: the
 * conductor stamps `updated_at`/`last_seen_up`, and a host is down once they
 * are older than `service_down_time`).
 *
 * A heartbeat the conductor does not answer is only logged: the next one
 * tries again (the host shows down meanwhile, as nova-compute's would). A
 * heartbeat refused because the row is gone (an operator deleted the
 * service) registers the host again.
 */
import type { Logger } from '../../../log';
import { type ConductorClient, remoteClass } from '../conductor/conductor-client';
import { adminContext } from '../conductor/context';
import { NovaPrimitive, primitive } from '../conductor/primitive';
import { COMPUTE_BINARY, ZED_SERVICE_VERSION } from '../conductor/versions';

export class ServiceRecord {
  private data: Record<string, unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private beating = false;
  /** When Nova's database last took this host's record (registered, or a heartbeat saved): ms since the epoch. */
  lastRecordedAt: number | undefined;

  constructor(
    private readonly conductor: ConductorClient,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  /** The row's id (Nova's service id), once registered. */
  get id(): number | undefined {
    const id = this.data?.id;
    return typeof id === 'number' ? id : undefined;
  }

  /** Find or create the row; resolves once Nova's database has it. */
  async register(): Promise<'created' | 'reused'> {
    const ctx = adminContext();
    // None when Nova has no such service; anything else must be a Service (never create a second row on a reply we misread).
    const existing = await this.conductor.classActionAs(NovaPrimitive.nullable(), ctx, 'Service', 'get_by_host_and_binary', [this.host, COMPUTE_BINARY]);
    if (existing) {
      this.data = { ...existing['nova_object.data'] };
      if (this.data.version !== ZED_SERVICE_VERSION) await this.save(['version'], { version: ZED_SERVICE_VERSION });
      this.lastRecordedAt = Date.now();
      this.log.info('nova-compute service record reused', { host: this.host, service_id: this.id });
      return 'reused';
    }
    const fields = { host: this.host, binary: COMPUTE_BINARY, topic: 'compute', report_count: 0, version: ZED_SERVICE_VERSION };
    const r = await this.conductor.objectAction(ctx, primitive('Service', fields, Object.keys(fields)), 'create');
    this.data = r.data;
    this.lastRecordedAt = Date.now();
    this.log.info('nova-compute service record created', { host: this.host, service_id: this.id });
    return 'created';
  }

  /** Heartbeats every `intervalMs` from now on. */
  startHeartbeat(intervalMs: number): void {
    this.stopHeartbeat();
    this.timer = setInterval(() => void this.beat(), intervalMs);
    this.timer.unref();
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat (report_count + 1). Never rejects. */
  async beat(): Promise<void> {
    if (this.beating || !this.data) return; // the previous one is still waiting for the conductor
    this.beating = true;
    try {
      const count = typeof this.data.report_count === 'number' ? this.data.report_count : 0;
      await this.save(['report_count'], { report_count: count + 1 });
    } catch (err) {
      if (remoteClass(err) === 'ServiceNotFound') {
        this.log.warn('nova-compute service record is gone from Nova: registering again', { host: this.host });
        await this.register().catch((e: unknown) => this.log.warn('registering again failed', { error: String(e) }));
      } else {
        this.log.warn('heartbeat not recorded (Nova shows this host down if it lasts)', { host: this.host, error: String(err) });
      }
    } finally {
      this.beating = false;
    }
  }

  private async save(changes: string[], values: Record<string, unknown>): Promise<void> {
    const data = { ...this.data, ...values };
    const r = await this.conductor.objectAction(adminContext(), primitive('Service', data, changes), 'save');
    this.data = r.data;
    this.lastRecordedAt = Date.now();
  }
}
