/**
 * JSON over HTTP for the harness's API clients: Node's fetch, a timeout on
 * every request (AbortSignal), the reply parsed by a zod schema, and
 * unexpected statuses as ControlPlaneError with the body's beginning.
 */
import type { z } from 'zod';
import { ControlPlaneError } from './errors';

export const DEFAULT_HTTP_TIMEOUT_MS = 15_000;

export interface JsonRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
}

export interface RawReply {
  status: number;
  text: string;
}

export async function send(req: JsonRequest): Promise<RawReply> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const method = req.method ?? 'GET';
  const headers = { Accept: 'application/json', ...req.headers, ...(req.body === undefined ? {} : { 'Content-Type': 'application/json' }) };
  try {
    const res = await fetch(req.url, {
      method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw new ControlPlaneError('HTTP_TIMEOUT', `${method} ${req.url}: no answer within ${timeoutMs} ms`);
    }
    throw err;
  }
}

/** The reply must have one of `ok` statuses; its body is parsed by `schema`. */
export async function sendJson<S extends z.ZodType>(req: JsonRequest, ok: readonly number[], schema: S): Promise<z.output<S>> {
  const reply = await send(req);
  expectStatus(req, reply, ok);
  return parseBody(req, reply, schema);
}

export function expectStatus(req: JsonRequest, reply: RawReply, ok: readonly number[]): void {
  if (!ok.includes(reply.status)) {
    throw new ControlPlaneError('HTTP_STATUS', `${req.method ?? 'GET'} ${req.url}: ${reply.status} (expected ${ok.join(' or ')}): ${reply.text.slice(0, 500)}`, {
      status: reply.status,
    });
  }
}

export function parseBody<S extends z.ZodType>(req: JsonRequest, reply: RawReply, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(reply.text);
  } catch {
    throw new ControlPlaneError('BAD_REPLY', `${req.method ?? 'GET'} ${req.url}: not JSON: ${reply.text.slice(0, 200)}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ControlPlaneError('BAD_REPLY', `${req.method ?? 'GET'} ${req.url}: unexpected reply: ${parsed.error.message}`, { body: reply.text.slice(0, 500) });
  }
  return parsed.data;
}
