/**
 * Options every transport takes, whatever its protocol, so the two are
 * configured alike: identity, logging, TLS material, and the deadlines and
 * reconnect backoff of its broker operations (milliseconds).
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type TransportLog = (level: LogLevel, msg: string, meta?: Record<string, unknown>) => void;

const pem = z.union([z.string(), z.instanceof(Buffer)]);

export const commonTransportFields = {
  /** Shown by the broker (`rabbitmqctl list_connections`); default `<argv0>:<pid>:<uuid4>` as oslo does. */
  connectionName: z.string().min(1).optional(),
  log: z.custom<TransportLog>((v) => typeof v === 'function').optional(),
  tls: z.object({ ca: pem.optional(), cert: pem.optional(), key: pem.optional() }).optional(),
  /** Deadline of a single broker operation (declare, open a channel or link, consume, cancel). */
  operationTimeoutMs: z.number().int().positive().default(10_000),
  /** How long a publish may wait for a channel or link, buffer space or credit, and the broker's confirm. Past it the outcome is unknown. */
  confirmTimeoutMs: z.number().int().positive().default(30_000),
  /** Connect + handshake deadline of one attempt. */
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /** start() gives up after this long without a first connection. */
  startTimeoutMs: z.number().int().positive().default(60_000),
  /**
   * start() gives up as soon as every host of the URL failed once, with each
   * host's reason (a command run by hand: a wrong password is said at once,
   * not after startTimeoutMs). Off for a worker, which keeps trying.
   */
  failFast: z.boolean().default(false),
  /** Reconnect backoff: first ceiling and cap (equal jitter below each ceiling). */
  reconnectMinMs: z.number().int().positive().default(500),
  reconnectMaxMs: z.number().int().positive().default(30_000),
  /** The broker's max message size (RabbitMQ max_message_size); a bigger publish fails alone before it is sent. */
  maxPublishBytes: z.number().int().positive().default(128 * 1024 * 1024),
};

const commonSchema = z.object(commonTransportFields);

/** `input` parsed by a transport's schema; a ConfigError naming the first bad field otherwise. */
export function parseTransportOptions<S extends z.ZodTypeAny>(schema: S, input: unknown, transport: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  throw new ConfigError(`${transport}: ${first ? `${first.path.join('.')}: ${first.message}` : 'invalid options'}`);
}

const silent: TransportLog = () => undefined;

/** The common fields as both transports keep them compiled (maxPublishBytes and tls are each transport's own). */
export function compileCommon(o: z.output<typeof commonSchema>) {
  return {
    connectionName: o.connectionName ?? `${basename(process.argv[1] ?? 'hostwall')}:${process.pid}:${randomUUID()}`,
    log: o.log ?? silent,
    failFast: o.failFast,
    operationTimeoutMs: o.operationTimeoutMs,
    confirmTimeoutMs: o.confirmTimeoutMs,
    connectTimeoutMs: o.connectTimeoutMs,
    startTimeoutMs: o.startTimeoutMs,
    reconnectMinMs: o.reconnectMinMs,
    reconnectMaxMs: Math.max(o.reconnectMaxMs, o.reconnectMinMs),
  };
}
export type CompiledCommon = ReturnType<typeof compileCommon>;
