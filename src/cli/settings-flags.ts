/**
 * Every setting of config.ts as a command-line flag, generated from the one
 * table, so the flags, the environment names and the help never drift apart;
 * plus the INI files oslo.config would read (`--config-file`, repeatable, and
 * `--config-dir`), so a compute node's own nova-compute.conf configures the
 * worker (adapters/nova/nova-conf.ts).
 */
import type { Command } from 'commander';
import { type NovaConf, readNovaConf } from '../adapters/nova/nova-conf';
import { type Config, type ConfigInput, flagKey, kebab, loadConfig, SETTINGS, type SettingName } from '../config';
import { loadIniFiles } from '../oslo/config-files';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function addSettingFlags(cmd: Command, names: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[]): Command {
  cmd.option('--config <file>', 'JSON file of settings (also HOSTWALL_CONFIG)');
  cmd.option('--config-file <file>', 'oslo.config INI file, e.g. this host\'s nova-compute.conf (repeatable; later files win); hostwall\'s own settings in its [hostwall] section', collect);
  cmd.option('--config-dir <dir>', 'directory of *.conf INI files read after the --config-file ones, in name order (repeatable)', collect);
  for (const name of names) {
    const s = SETTINGS[name];
    cmd.option(`--${kebab(name)} <value>`, `${s.help} [env ${s.env}, default ${JSON.stringify(s.default)}]`);
  }
  return cmd;
}

export interface LoadedSettings {
  config: Config;
  /** What the INI files said, when some were given. */
  nova: NovaConf | undefined;
}

export function settingsFromFlags(opts: Record<string, unknown>): LoadedSettings {
  const flags: ConfigInput['flags'] = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = opts[flagKey(name)];
    if (v !== undefined) flags[name] = v;
  }
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const files = list(opts.configFile);
  const dirs = list(opts.configDir);
  const nova = files.length + dirs.length > 0 ? readNovaConf(loadIniFiles(files, dirs)) : undefined;
  const config = loadConfig({ flags, file: typeof opts.config === 'string' ? opts.config : undefined, layers: nova?.layers ?? [] });
  return { config, nova };
}

export function configFromFlags(opts: Record<string, unknown>): Config {
  return settingsFromFlags(opts).config;
}
