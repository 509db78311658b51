/**
 * INI configuration files as oslo.config reads them (oslo_config/iniparser.py
 * and cfg.ConfigOpts), so a compute node's own nova-compute.conf works as it
 * is:
 *
 * - `[section]` headers; `key = value` or `key: value` (the first of `=`/`:`
 *   splits); `#` and `;` start comment lines (never inline: `a = b # c` is
 *   the value `b # c`); a value wrapped in matching quotes loses them;
 *   indented lines continue the previous value (joined with newlines); a
 *   blank line ends it;
 * - `--config-file` may repeat: later files override earlier ones, key by
 *   key; each `--config-dir` adds its `*.conf` files in name order, after
 *   the files;
 * - `$name` / `${name}` / `${group.name}` refer to another option (same
 *   section, then [DEFAULT], then the given defaults); `$$` is a `$`.
 *
 * Read errors and syntax errors are ConfigErrors naming the file and line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors';

export const DEFAULT_SECTION = 'DEFAULT';

/** Section → key → value, plus where each value came from. */
export interface IniConfig {
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** `section.key` → the file that set it last. */
  readonly origin: ReadonlyMap<string, string>;
  /** Every file read, in order. */
  readonly files: readonly string[];
}

/** Parse one file's text into section → key → value (later keys win within a file too). */
export function parseIni(text: string, file: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let section: Map<string, string> | undefined;
  let key: string | undefined;
  let value: string[] = [];
  const fail = (lineno: number, why: string, line: string): never => {
    throw new ConfigError(`${file}: line ${lineno}: ${why}: ${JSON.stringify(line.slice(0, 80))}`);
  };
  const flush = () => {
    if (key !== undefined && section) section.set(key, value.join('\n'));
    key = undefined;
    value = [];
  };
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const lineno = i + 1;
    const line = raw.trimEnd();
    if (line === '') {
      flush();
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (key === undefined) fail(lineno, 'unexpected continuation line', line);
      value.push(line.trimStart());
      continue;
    }
    flush();
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) fail(lineno, 'invalid section (must end with ])', line);
      if (line.length <= 2) fail(lineno, 'empty section name', line);
      const name = line.slice(1, -1);
      section = sections.get(name) ?? new Map<string, string>();
      sections.set(name, section);
      continue;
    }
    if (line.startsWith('#') || line.startsWith(';')) continue;
    if (!section) fail(lineno, 'option outside any [section]', line);
    const colon = line.indexOf(':');
    const equal = line.indexOf('=');
    if (colon < 0 && equal < 0) fail(lineno, "no ':' or '=' found in assignment", line);
    const at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
    const k = line.slice(0, at).trim().replace(/-/g, '_');
    let v = line.slice(at + 1).trim();
    if (v.length >= 2 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
    if (!k) fail(lineno, 'key cannot be empty', line);
    key = k;
    value = [v];
  }
  flush();
  return sections;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
  }
}

/** The `*.conf` files of a config dir, in name order (oslo: sorted glob). */
export function configDirFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new ConfigError('not a directory');
    names = readdirSync(dir);
  } catch (err) {
    throw new ConfigError(`config dir ${dir}: ${(err as Error).message}`);
  }
  return names.filter((n) => n.endsWith('.conf')).sort().map((n) => join(dir, n));
}

/** Read and merge config files then config dirs, later ones overriding earlier ones key by key. */
export function loadIniFiles(files: readonly string[], dirs: readonly string[] = []): IniConfig {
  const all = [...files, ...dirs.flatMap(configDirFiles)];
  const sections = new Map<string, Map<string, string>>();
  const origin = new Map<string, string>();
  for (const file of all) {
    for (const [name, entries] of parseIni(readText(file), file)) {
      const into = sections.get(name) ?? new Map<string, string>();
      sections.set(name, into);
      for (const [k, v] of entries) {
        into.set(k, v);
        origin.set(`${name}.${k}`, file);
      }
    }
  }
  return { sections, origin, files: all };
}

/**
 * An option's value with `$` references substituted (oslo's _substitute):
 * from the same section, then [DEFAULT], then `defaults`. Undefined when the
 * option is not set. An unknown reference is a ConfigError.
 */
export function iniValue(ini: IniConfig, section: string, key: string, defaults: Readonly<Record<string, string>> = {}): string | undefined {
  const raw = ini.sections.get(section)?.get(key);
  if (raw === undefined) return undefined;
  return substitute(ini, section, raw, defaults, [`${section}.${key}`]);
}

function substitute(ini: IniConfig, section: string, raw: string, defaults: Readonly<Record<string, string>>, chain: string[]): string {
  return raw.replace(/\$(\$|\{([A-Za-z_][\w.]*)\}|([A-Za-z_]\w*))/g, (_m, dollar: string, braced?: string, bare?: string) => {
    if (dollar === '$') return '$';
    const ref = braced ?? bare ?? '';
    const [group, name] = ref.includes('.') ? [ref.slice(0, ref.indexOf('.')), ref.slice(ref.indexOf('.') + 1)] : [undefined, ref];
    // oslo has no group named DEFAULT: ${DEFAULT.x} is NoSuchGroupError there.
    if (group === DEFAULT_SECTION) throw new ConfigError(`config: ${chain[0]} refers to \${${ref}}: [DEFAULT] options are referred to as $name`);
    const candidates = group ? [group] : [section, DEFAULT_SECTION];
    for (const g of candidates) {
      const v = ini.sections.get(g)?.get(name);
      if (v === undefined) continue;
      const at = `${g}.${name}`;
      if (chain.includes(at)) throw new ConfigError(`config: ${chain[0]} refers to itself through $${ref}`);
      return substitute(ini, g, v, defaults, [...chain, at]);
    }
    const d = defaults[name];
    if (d !== undefined) return d;
    const where = ini.origin.get(chain[0] ?? '') ?? 'config';
    throw new ConfigError(`${where}: ${chain[0]} refers to $${ref}, which is not set`);
  });
}

/** A section as a plain record of substituted values (for a client's own settings, e.g. [placement]). */
export function iniSection(ini: IniConfig, section: string, defaults: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ini.sections.get(section)?.keys() ?? []) {
    const v = iniValue(ini, section, key, defaults);
    if (v !== undefined) out[key] = v;
  }
  return out;
}
