/**
 * `hostwall <command>`: one file per command under cli/.
 *
 * Exit codes (README "Exit codes"), for every command:
 *   0  it did what was asked (`--help`, `--version` included);
 *   1  it failed doing it (the broker refused, the worker said no, a check failed);
 *   2  the command or its configuration is wrong (unknown option, missing
 *      argument, bad JSON, an invalid setting): fix it and run it again.
 * Every failure is one line on stderr, `hostwall: <why>`; no command prints
 * a stack trace (an unexpected one says "internal error" in one line, the
 * stack only with HOSTWALL_DEBUG set).
 */
import { Command, CommanderError } from 'commander';
import { exitCodeOf, HostwallError, UsageError } from '../errors';
import { VERSION } from '../version';
import { registerConfig } from './config';
import { registerDemo } from './demo';
import { registerEvents } from './events';
import { registerInspect } from './inspect';
import { registerReplay } from './replay';
import { registerSchemas } from './schemas';
import { registerCall, registerSend } from './send';
import { registerStatus } from './status';
import { registerWorker } from './worker';

const debug = (): boolean => /^(1|true|yes|on)$/i.test(process.env.HOSTWALL_DEBUG ?? '');

function fail(err: unknown, code: number, prefix = ''): never {
  const msg = err instanceof UsageError ? err.message : err instanceof HostwallError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`hostwall: ${prefix}${msg.split('\n')[0]}\n`);
  if (debug() && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(code);
}

// A bug that escapes a command still ends in one line (and exit 1), not a stack trace.
process.on('uncaughtException', (err) => fail(err, 1, 'internal error: '));
process.on('unhandledRejection', (err) => fail(err, 1, 'internal error: '));

const program = new Command('hostwall')
  .description('the wall around a compute host: validated intents in, serialized libvirt driver, state events out')
  .version(VERSION, '-V, --version', 'print the version and exit')
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
registerStatus(program);
registerConfig(program);

// `--version` everywhere: `hostwall worker --version` answers like `hostwall --version`.
const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
for (const cmd of everyCommand(program).slice(1)) cmd.version(VERSION, '-V, --version', 'print the version and exit');

program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander has already printed its message (and the help hint); 0 for --help and --version.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  fail(err, exitCodeOf(err));
});
