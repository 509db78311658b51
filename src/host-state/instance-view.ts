/**
 * What the worker knows about one instance when it reports on it: the input
 * of both the native events and Nova's notification payloads. The instance
 * book (instance-book.ts) keeps one per instance (from the spawn spec and the driver's state).
 */
import type { Flavor, Port } from '../intents';
import type { PowerState, TaskState, VmState } from '../intents';

export interface InstanceView {
  uuid: string;
  /** libvirt domain name / Nova's instance.name. */
  name: string;
  host: string;
  flavor: Flavor | undefined;
  image_id: string | undefined;
  metadata: Record<string, string>;
  power_state: PowerState;
  vm_state: VmState;
  task_state: TaskState;
  /** ISO 8601 times, when known. */
  created_at: string | undefined;
  launched_at: string | undefined;
  terminated_at: string | undefined;
  ports: Port[];
  volumes: { volume_id: string; device: string | undefined }[];
  /**
   * Who owns the instance (Nova's instance.user_id / project_id, sent as
   * tenant_id in notifications), when known: the spawn's request context.
   * Optional so facts built before it existed stay valid; absent means null
   * in Nova's payloads, never the requester of a later action.
   */
  owner?: { user_id: string | undefined; project_id: string | undefined };
}

/** The request an event answers: from the oslo context of the message. */
export interface IntentRequest {
  intent_id: string;
  request_id: string | undefined;
  global_request_id: string | undefined;
  user_id: string | undefined;
  project_id: string | undefined;
  issuer: string | undefined;
}
