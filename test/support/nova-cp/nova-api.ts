/**
 * A small typed client of the Nova compute API as the control plane serves
 * it (noauth2: the token "admin:admin" is user admin of project admin).
 *
 * Microversion 2.88 by default: `"networks": "none"` needs 2.37, a requested
 * `host` on boot needs 2.74, service ids are uuids from 2.53. Reads of a
 * server answer `undefined` on 404, so "gone" is a value, not an exception.
 */
import { DEFAULT_HTTP_TIMEOUT_MS, expectStatus, type JsonRequest, parseBody, send, sendJson } from './http';
import { ControlPlaneError } from './errors';
import { type PollOptions, pollUntil } from './poll';
import { type Hypervisor, HypervisorList, HypervisorReply, type InstanceAction, InstanceActionList, InstanceActionReply, type Server, ServerCreated, ServerReply, type Service, ServiceList } from './schemas';

export const NOVA_MICROVERSION = '2.88';

export interface BootRequest {
  name: string;
  imageRef: string;
  flavorRef: string;
  /** Ask the scheduler for this compute host (2.74); it still checks the host fits. */
  host?: string;
}

/** The server actions of POST /servers/{id}/action the harness drives. */
export type ServerAction = 'os-stop' | 'os-start' | 'reboot-soft' | 'reboot-hard' | 'pause' | 'unpause' | 'suspend' | 'resume';

function actionBody(action: ServerAction): Record<string, unknown> {
  switch (action) {
    case 'reboot-soft':
      return { reboot: { type: 'SOFT' } };
    case 'reboot-hard':
      return { reboot: { type: 'HARD' } };
    default:
      return { [action]: null };
  }
}

export interface NovaApiOptions {
  microversion?: string;
  timeoutMs?: number;
}

export class NovaApi {
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    opts: NovaApiOptions = {},
  ) {
    this.headers = { 'X-Auth-Token': 'admin:admin', 'OpenStack-API-Version': `compute ${opts.microversion ?? NOVA_MICROVERSION}` };
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  }

  private req(method: JsonRequest['method'], path: string, body?: unknown): JsonRequest {
    return { method, url: `${this.baseUrl}${path}`, headers: this.headers, body, timeoutMs: this.timeoutMs };
  }

  /** POST /servers with no network; answers the new server's id (202). */
  async bootServer(b: BootRequest): Promise<string> {
    const server = { name: b.name, imageRef: b.imageRef, flavorRef: b.flavorRef, networks: 'none', ...(b.host ? { host: b.host } : {}) };
    const reply = await sendJson(this.req('POST', '/servers', { server }), [202], ServerCreated);
    return reply.server.id;
  }

  async getServer(id: string): Promise<Server | undefined> {
    const req = this.req('GET', `/servers/${id}`);
    const reply = await send(req);
    if (reply.status === 404) return undefined;
    expectStatus(req, reply, [200]);
    return parseBody(req, reply, ServerReply).server;
  }

  /** Accepted (202) means Nova cast the action to the compute host, nothing more. */
  async act(id: string, action: ServerAction): Promise<void> {
    const req = this.req('POST', `/servers/${id}/action`, actionBody(action));
    expectStatus(req, await send(req), [202]);
  }

  /** 204; a server already gone (404) is fine. */
  async deleteServer(id: string): Promise<void> {
    const req = this.req('DELETE', `/servers/${id}`);
    expectStatus(req, await send(req), [204, 404]);
  }

  /**
   * Polls until the server has `status` with no task in progress. ERROR
   * fails at once with the server's fault: waiting longer cannot help.
   */
  async waitForStatus(id: string, status: string, opts: PollOptions): Promise<Server> {
    return pollUntil(
      `server ${id} to become ${status}`,
      async () => {
        const s = await this.getServer(id);
        if (!s) return { done: false, seen: '404' };
        if (s.status === status && s['OS-EXT-STS:task_state'] === null) return { done: true, value: s };
        if (s.status === 'ERROR' && status !== 'ERROR') {
          throw new ControlPlaneError('SERVER_ERROR_STATE', `server ${id} went to ERROR while waiting for ${status}: ${JSON.stringify(s.fault ?? {})}`, { server: s });
        }
        return { done: false, seen: `${s.status} (task ${s['OS-EXT-STS:task_state']})` };
      },
      opts,
    );
  }

  /** Polls until GET /servers/{id} answers 404. */
  async waitGone(id: string, opts: PollOptions): Promise<void> {
    await pollUntil(
      `server ${id} to be gone`,
      async () => {
        const s = await this.getServer(id);
        return s ? { done: false, seen: `${s.status} (task ${s['OS-EXT-STS:task_state']})` } : { done: true, value: undefined };
      },
      opts,
    );
  }

  async listServices(filter: { host?: string; binary?: string } = {}): Promise<Service[]> {
    const q = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined));
    const reply = await sendJson(this.req('GET', `/os-services${q.size ? `?${q}` : ''}`), [200], ServiceList);
    return reply.services;
  }

  /**
   * DELETE /os-services/{id}: for a compute service, also its compute node
   * and its resource provider in Placement (the harness's clean-up of a
   * compute host that will not come back).
   */
  async deleteService(id: string): Promise<void> {
    const req = this.req('DELETE', `/os-services/${id}`);
    expectStatus(req, await send(req), [204, 404]);
  }

  /** POST /servers/{id}/action {rebuild}: Nova casts rebuild_instance to the server's host. */
  async rebuild(id: string, imageRef: string): Promise<void> {
    const req = this.req('POST', `/servers/${id}/action`, { rebuild: { imageRef } });
    expectStatus(req, await send(req), [202]);
  }

  /** The server's instance actions, newest first, each with its events. */
  async instanceActions(id: string): Promise<InstanceAction[]> {
    const list = await sendJson(this.req('GET', `/servers/${id}/os-instance-actions`), [200], InstanceActionList);
    const out: InstanceAction[] = [];
    for (const a of list.instanceActions) {
      out.push((await sendJson(this.req('GET', `/servers/${id}/os-instance-actions/${a.request_id}`), [200], InstanceActionReply)).instanceAction);
    }
    return out;
  }

  /** GET /os-hypervisors/{id}: at 2.88 Nova asks that one host its uptime (the list asks every host, dead ones too). */
  async getHypervisor(id: string): Promise<Hypervisor> {
    return (await sendJson(this.req('GET', `/os-hypervisors/${id}`), [200], HypervisorReply)).hypervisor;
  }

  async listHypervisors(): Promise<Hypervisor[]> {
    const reply = await sendJson(this.req('GET', '/os-hypervisors/detail'), [200], HypervisorList);
    return reply.hypervisors;
  }
}
