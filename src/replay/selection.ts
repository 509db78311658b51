/**
 * Which journaled or dead-lettered messages an operator selects: by host,
 * kind (glob), instance and time window, up to a limit.
 */
import { z } from 'zod';
import { UsageError } from '../errors';

/** `2026-11-25T08:00:00Z`, or relative to now: `-2h`, `-30m`, `-90s`, `-1d`. */
export function parseWhen(text: string, now = new Date()): Date {
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  // Only ISO 8601 (date, or date and time): Date would also take "5" (the year 2001) or "May 5".
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i.test(text.trim());
  const d = iso ? new Date(text.trim()) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) throw new UsageError(`not a time: "${text}" (use ISO 8601 like 2026-11-25T08:00:00Z, or relative like -2h)`);
  return d;
}

/** `instance.*` matches one dot-free word per `*`; `**` matches anything. */
export function globToRegExp(glob: string): RegExp {
  const word = (w: string) => w.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*');
  return new RegExp(`^${glob.split('**').map(word).join('.*')}$`);
}

export const Selection = z.object({
  host: z.string().optional(),
  kind: z.string().optional(),
  instance: z.string().optional(),
  from: z.date().optional(),
  to: z.date().optional(),
  limit: z.int().positive().optional(),
});
export type Selection = z.infer<typeof Selection>;

/** What selection looks at in one message. */
export interface Candidate {
  host: string | undefined;
  kind: string | undefined;
  instanceUuid: string | undefined;
  at: Date | undefined;
}

export function selector(sel: Selection): (c: Candidate) => boolean {
  const kind = sel.kind ? globToRegExp(sel.kind) : undefined;
  return (c) =>
    (!sel.host || c.host === sel.host) &&
    (!kind || (c.kind !== undefined && kind.test(c.kind))) &&
    (!sel.instance || c.instanceUuid === sel.instance) &&
    (!sel.from || !c.at || c.at >= sel.from) &&
    (!sel.to || !c.at || c.at < sel.to);
}
