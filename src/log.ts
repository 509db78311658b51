/**
 * Logs through winston: JSON lines by default, readable on a TTY. Lines about
 * an intent carry intent_id and request_id (use `forIntent`). Secrets never
 * reach a transport: the redaction format runs before any output format.
 */
import winston from 'winston';

export type Logger = winston.Logger;

/** Keys whose values are secrets wherever they appear (connection_info auth, context tokens, passwords). */
const SECRET_KEY = /(pass(word|wd)?$|secret|token|credential|keyring|^key$|auth_key|private_key|auth_password|_password$)/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 12 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '***' : redact(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '***' : redact(info[key]);
  }
  return info;
});

export function createLogger(opts: { level: string; format: 'json' | 'pretty' | 'auto'; stream?: NodeJS.WritableStream }): Logger {
  const stream = opts.stream ?? process.stderr;
  const tty = 'isTTY' in stream && stream.isTTY === true;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && tty);
  const output = pretty
    ? winston.format.combine(
        winston.format.colorize(),
        winston.format.printf((info) => {
          const { level, message, timestamp, ...rest } = info;
          const meta = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${meta}`;
        }),
      )
    : winston.format.json();
  return winston.createLogger({
    level: opts.level,
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), output),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A child logger whose every line names the intent and request. */
export function forIntent(log: Logger, ids: { intent_id: string; request_id?: string | undefined; kind?: string }): Logger {
  return log.child({ intent_id: ids.intent_id, request_id: ids.request_id ?? null, ...(ids.kind ? { kind: ids.kind } : {}) });
}
