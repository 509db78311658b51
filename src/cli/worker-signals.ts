/**
 * Signals of `hostwall worker`, as an oslo service takes them:
 *
 * - SIGTERM, SIGINT: drain and stop (Worker.stop), exit 0 when it went well;
 * - SIGHUP: never stops the worker (Node's default would end the process).
 *   It reopens the log file (logrotate moved it away) and reads the
 *   configuration files again: settings marked `reload` in config.ts (the
 *   log level, --debug) take their new values now; any other setting that
 *   changed is named in one warning and takes effect at the next start. A
 *   file that no longer parses is logged and changes nothing.
 */
import { type Config, configKey, kebab, SETTINGS, type SettingName } from '../config';
import { type Logger, levelOf } from '../log';
import { reopenLogFiles } from '../log-file';
import type { Worker } from '../worker/worker';

/** The settings a SIGHUP applies (config.ts `reload: true`). */
export const RELOADABLE = (Object.keys(SETTINGS) as SettingName[]).filter((n) => 'reload' in SETTINGS[n] && SETTINGS[n].reload === true);

export interface HangupResult {
  reloaded: SettingName[];
  atRestart: SettingName[];
  error?: string;
}

/** Apply what can be applied of a new configuration to a running worker's logger; say what cannot. */
export function applyReload(current: Config, next: Config, log: Logger): HangupResult {
  const changed = (Object.keys(SETTINGS) as SettingName[]).filter((n) => JSON.stringify(current[configKey(n)]) !== JSON.stringify(next[configKey(n)]));
  const reloaded = changed.filter((n) => RELOADABLE.includes(n));
  const atRestart = changed.filter((n) => !RELOADABLE.includes(n));
  log.level = levelOf(next);
  return { reloaded, atRestart };
}

export function handleSignals(worker: Worker, log: Logger, reload: { current: Config; read: () => Config }): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: draining`, { pending: worker.pending });
    worker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    const failed = reopenLogFiles();
    if (failed.length > 0) log.error('SIGHUP: log file not reopened (still writing to the old one)', { files: failed });
    let next: Config;
    try {
      next = reload.read();
    } catch (err) {
      log.error('SIGHUP: configuration not reloaded; nothing changed', { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    const r = applyReload(reload.current, next, log);
    for (const n of r.reloaded) (reload.current as Record<keyof Config, unknown>)[configKey(n)] = next[configKey(n)];
    log.info('SIGHUP: log file reopened, configuration read again', { reloaded: r.reloaded.map(kebab), log_level: log.level });
    if (r.atRestart.length > 0) log.warn('SIGHUP: these settings changed and take effect at the next start', { settings: r.atRestart.map(kebab) });
  });
}
