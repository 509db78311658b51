/**
 * Every setting of config.ts as a command-line flag, generated from the one
 * table, so the flags, the environment names and the help never drift apart.
 */
import type { Command } from 'commander';
import { type Config, type ConfigInput, flagKey, kebab, loadConfig, SETTINGS, type SettingName } from '../config';

export function addSettingFlags(cmd: Command, names: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[]): Command {
  cmd.option('--config <file>', 'JSON file of settings (also HOSTWALL_CONFIG)');
  for (const name of names) {
    const s = SETTINGS[name];
    cmd.option(`--${kebab(name)} <value>`, `${s.help} [env ${s.env}, default ${JSON.stringify(s.default)}]`);
  }
  return cmd;
}

export function configFromFlags(opts: Record<string, unknown>): Config {
  const flags: ConfigInput['flags'] = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const v = opts[flagKey(name)];
    if (v !== undefined) flags[name] = v;
  }
  return loadConfig({ flags, file: typeof opts.config === 'string' ? opts.config : undefined });
}
