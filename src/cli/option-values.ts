/**
 * Parsers of the commands' numeric and time options, given to commander as
 * the option's argParser. Each takes the whole text or refuses it: "10x" is
 * not 10, "abc" is not NaN, "0" is not a limit. A refusal is a ConfigError,
 * which main.ts prints as one line and exits with code 2 (a usage error), no
 * stack trace; the message names the option, the text and what would do.
 */
import { ConfigError } from '../errors';
import { parseWhen } from '../replay/selection';

const quoted = (text: string): string => JSON.stringify(text);

/** A whole number ≥ 1 (`--limit`, `--count`). */
export function positiveInt(flag: string): (text: string) => number {
  return (text) => {
    const t = text.trim();
    const n = /^\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`${flag} ${quoted(text)}: not a whole number of at least 1`, { option: flag });
    return n;
  };
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/**
 * A duration, in milliseconds: a number of seconds (`30`, `2.5`) or a number
 * with a unit (`500ms`, `30s`, `5m`, `1h`); more than 0, at most a week (a
 * typo such as 3000000 should not make a command wait for a month).
 */
export function duration(flag: string): (text: string) => number {
  return (text) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
    const ms = m ? Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS] : Number.NaN;
    if (!(ms > 0) || ms > 7 * 86_400_000) throw new ConfigError(`${flag} ${quoted(text)}: not a duration (seconds like 30 or 2.5, or 500ms, 30s, 5m, 1h; more than 0, at most a week)`, { option: flag });
    return Math.round(ms);
  };
}

/** A rate in messages per second: `50`, `50/s` or `600/m`; more than 0. */
export function ratePerSecond(flag: string): (text: string) => number {
  return (text) => {
    const m = /^(\d+(?:\.\d+)?)(?:\/(s|m))?$/.exec(text.trim());
    const perS = m ? Number(m[1]) / (m[2] === 'm' ? 60 : 1) : Number.NaN;
    if (!(perS > 0) || !Number.isFinite(perS)) throw new ConfigError(`${flag} ${quoted(text)}: not a rate (messages per second like 50 or 50/s, or per minute like 600/m; more than 0)`, { option: flag });
    return perS;
  };
}

/** A point in time: ISO 8601, or relative to now like `-2h` (replay/selection.ts parseWhen). */
export function pointInTime(flag: string): (text: string) => Date {
  return (text) => {
    try {
      return parseWhen(text);
    } catch (err) {
      throw new ConfigError(`${flag} ${quoted(text)}: ${err instanceof Error ? err.message : String(err)}`, { option: flag });
    }
  };
}
