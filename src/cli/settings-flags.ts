/**
 * Every setting of config.ts as a command-line flag, generated from the one
 * table, so the flags, the environment names and the help never drift apart;
 * plus the INI files oslo.config would read (`--config-file`, repeatable, and
 * `--config-dir`), so a compute node's own nova-compute.conf configures the
 * worker (adapters/nova/nova-conf.ts).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { type NovaConf, readNovaConf } from '../adapters/nova/nova-conf';
import { bool, type Config, type ConfigInput, flagKey, kebab, loadConfig, SETTINGS, type SettingName } from '../config';
import { loadIniFiles } from '../oslo/config-files';

/**
 * Read when it exists and neither --config-file nor --config-dir is given
 * (oslo.config reads /etc/<project>/<project>.conf the same way); when it is
 * absent the settings come from flags, the environment and the defaults.
 */
export const DEFAULT_CONFIG_FILE = '/etc/hostwall/hostwall.conf';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function addSettingFlags(cmd: Command, names: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[]): Command {
  cmd.option('--config <file>', 'JSON file of settings (also HOSTWALL_CONFIG)');
  cmd.option('--config-file <file>', `oslo.config INI file, e.g. this host's nova-compute.conf (repeatable; later files win); hostwall's own settings in its [hostwall] section (default: ${DEFAULT_CONFIG_FILE} when it exists)`, collect);
  cmd.option('--config-dir <dir>', 'directory of *.conf INI files read after the --config-file ones, in name order (repeatable)', collect);
  for (const name of names) {
    const s = SETTINGS[name];
    // A boolean may be given bare (`--debug`), as oslo's CLI booleans are.
    const value = (s.schema as unknown) === bool ? '[value]' : '<value>';
    cmd.option(`--${kebab(name)} ${value}`, `${s.help} [env ${s.env}, default ${JSON.stringify(s.default)}]`);
  }
  return cmd;
}

export interface LoadedSettings {
  config: Config;
  /** What the INI files said, when some were given. */
  nova: NovaConf | undefined;
  /** The INI files read (the default one included when it was), in order. */
  files: string[];
}

/** The INI files to read: those named, else the default file if it exists. */
export function configFilesOf(opts: Record<string, unknown>, defaultFile: string = DEFAULT_CONFIG_FILE): { files: string[]; dirs: string[] } {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const files = list(opts.configFile);
  const dirs = list(opts.configDir);
  if (files.length + dirs.length === 0 && existsSync(defaultFile)) return { files: [defaultFile], dirs };
  return { files, dirs };
}

export function settingsFromFlags(opts: Record<string, unknown>, defaultFile: string = DEFAULT_CONFIG_FILE): LoadedSettings {
  const flags: ConfigInput['flags'] = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = opts[flagKey(name)];
    if (v !== undefined) flags[name] = v;
  }
  const { files, dirs } = configFilesOf(opts, defaultFile);
  const ini = files.length + dirs.length > 0 ? loadIniFiles(files, dirs) : undefined;
  const nova = ini ? readNovaConf(ini) : undefined;
  const config = loadConfig({ flags, file: typeof opts.config === 'string' ? opts.config : undefined, layers: nova?.layers ?? [] });
  return { config, nova, files: ini ? [...ini.files] : [] };
}
