/**
 * A companion runs beside the worker's core for the worker's lifetime and
 * owns duties the core knows nothing about: the Nova compute host's (a
 * service record and heartbeat in Nova's database, a resource provider in
 * Placement, every instance change written through nova-conductor) is the
 * one there is. The worker only orders its life:
 *
 *   start: after the driver, the instance book and crash recovery, before
 *          the first message is consumed (nova-compute registers before its
 *          RPC server starts); it may wait (for a conductor, say);
 *   stop:  after the drain, so the intents still running could finish their
 *          own records through it.
 *
 * Its `status()`, when it has one, is part of the worker's readiness
 * (/readyz): the worker asks, it never looks inside.
 */
import type { InstanceBook } from '../host-state/instance-book';
import type { InstanceStateCause, SenderRecords } from '../dispatch/ports';
import type { Driver } from '../drivers/driver';
import type { InstanceView, IntentRequest } from '../host-state/instance-view';
import type { Logger } from '../log';

export interface CompanionContext {
  driver: Driver;
  book: InstanceBook;
  log: Logger;
  /** True once the worker began stopping: a start that waits must give up. */
  stopping: () => boolean;
}

/** Whether a companion does its duties now, in a line (the worker's /readyz). */
export interface CompanionStatus {
  ready: boolean;
  detail: string;
}

export interface WorkerCompanion {
  readonly name: string;
  start(ctx: CompanionContext): Promise<void>;
  stop(): Promise<void>;
  /** Its part of the worker's readiness, without I/O (absent: not part of it). */
  status?(): CompanionStatus;
  /** Hooks for the intents of Nova's requests, and word of refused ones. */
  readonly records?: SenderRecords;
  /** Every instance.state the worker publishes, before it is published. Must not throw or block. */
  onInstanceState?(facts: InstanceView, req: IntentRequest, cause: InstanceStateCause): void;
}
