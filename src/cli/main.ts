/**
 * `hostwall <command>`: one file per command under cli/. Every command exits
 * non-zero with a one-line error on bad input; none prints a stack trace for
 * an expected failure.
 */
import { Command, CommanderError } from 'commander';
import { HostwallError } from '../errors';
import { registerCall, registerSend } from './send';
import { registerEvents } from './events';
import { registerSchemas } from './schemas';
import { registerWorker } from './worker';
import { registerReplay } from './replay';
import { registerDemo } from './demo';
import { registerInspect } from './inspect';

const program = new Command('hostwall')
  .description('the wall around a compute host: validated intents in, serialized libvirt driver, state events out')
  .showHelpAfterError()
  .exitOverride();

registerWorker(program);
registerSend(program);
registerCall(program);
registerEvents(program);
registerSchemas(program);
registerReplay(program);
registerDemo(program);
registerInspect(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const msg = err instanceof HostwallError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`hostwall: ${msg}\n`);
  process.exit(err instanceof HostwallError && err.code === 'CONFIG_INVALID' ? 2 : 1);
});
