/**
 * `hostwall send <kind>` (a cast) and `hostwall call <kind>` (waits for the
 * outcome and prints it). Both validate against the intent's schema first and
 * exit non-zero, naming the problem, without sending anything invalid.
 */
import type { Command } from 'commander';
import { checkIntent, IntentClient, type MessageSigner } from '../client/intent-client';
import { loadConfig } from '../config';
import { printable } from '../limits/terminal-text';
import { ConfigError, RejectedError, UsageError } from '../errors';
import { RemoteError } from '../oslo/failure';
import { isIssuer, loadIssuerKeys } from '../policy/identity';
import { connectCli, jsonOption, requireConsumer } from './connect';
import { duration } from './option-values';

interface SendFlags {
  issuerKeysFile?: string;
  host?: string;
  args: string;
  schemaVersion?: string;
  issuer: string;
  requestId?: string;
  amqpUrl?: string;
  controlExchange?: string;
  /** call: milliseconds (option-values.ts duration). */
  timeout: number;
}

function common(cmd: Command): Command {
  return cmd
    .argument('<kind>', 'intent kind, e.g. instance.power_off')
    .option('--host <host>', 'target host (default HOSTWALL_HOST)')
    .option('--args <json>', 'intent arguments as a JSON object', '{}')
    .option('--schema-version <v>', 'intent schema version, MAJOR.MINOR (default: the newest this build knows; --version is the program\'s)')
    .option('--issuer <issuer>', 'who sends it: nova, cinder, neutron or operator', 'operator')
    .option('--issuer-keys-file <file>', 'sign it with the --issuer\'s HMAC key from this JSON file, as the workers read it (default HOSTWALL_ISSUER_KEYS_FILE; none: unsigned)')
    .option('--request-id <id>', 'request id carried in the context (default: a new req-<uuid>)')
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .option('--control-exchange <name>', 'oslo control exchange (default nova)');
}

/** Validates the intent first, then connects (failing fast), then refuses a host no worker consumes. */
async function withClient<T>(
  flags: SendFlags,
  what: string,
  intent: { kind: string; args: Record<string, unknown> },
  fn: (c: IntentClient, host: string, ctx: Record<string, unknown>) => Promise<T>,
): Promise<T> {
  try {
    checkIntent(intent.kind, intent.args, flags.schemaVersion);
  } catch (err) {
    // Refused here, nothing sent: the command line is what must change (exit 2).
    throw err instanceof RejectedError ? new UsageError(`${err.code}: ${err.message}`) : err;
  }
  const config = loadConfig({ flags: { ...(flags.host ? { host: flags.host } : {}), ...(flags.amqpUrl ? { amqpUrl: flags.amqpUrl } : {}), ...(flags.controlExchange ? { controlExchange: flags.controlExchange } : {}), ...(flags.issuerKeysFile ? { issuerKeysFile: flags.issuerKeysFile } : {}) } });
  const context = { issuer: flags.issuer, request_id: flags.requestId ?? `req-${crypto.randomUUID()}` };
  const signer = signerFor(flags.issuer, config.issuerKeysFile, flags.issuerKeysFile !== undefined);
  const transport = await connectCli(config, what);
  try {
    await requireConsumer(transport, config.topic, config.host);
    return await fn(new IntentClient(transport, { controlExchange: config.controlExchange, topic: config.topic, signer }), config.host, context);
  } finally {
    await transport.close();
  }
}

/**
 * The issuer's key from the keys file, when there is a file. Named on the
 * command line, a file without that issuer's key is an error; taken from
 * the environment (the worker's own setting), it only signs what it can.
 */
function signerFor(issuer: string, keysFile: string, named: boolean): MessageSigner | undefined {
  if (keysFile === '') return undefined;
  const keys = loadIssuerKeys(keysFile);
  const key = isIssuer(issuer) ? keys[issuer] : undefined;
  if (key === undefined && named) throw new ConfigError(`${keysFile} has no key for issuer "${issuer}": cannot sign as it`);
  return key === undefined ? undefined : { issuer, key };
}

export function registerSend(program: Command): void {
  common(program.command('send').description('validate an intent and cast it to a host (prints the intent id)')).action(async (kind: string, flags: SendFlags) => {
    const args = jsonOption('args', flags.args);
    const r = await withClient(flags, 'send', { kind, args }, (c, host, context) => c.cast(host, kind, args, { ...(flags.schemaVersion ? { version: flags.schemaVersion } : {}), context }));
    process.stdout.write(`${JSON.stringify({ intent_id: r.intentId, kind })}\n`);
  });
}

export function registerCall(program: Command): void {
  common(program.command('call').description('validate an intent, send it as a call and print its outcome'))
    .option('--timeout <duration>', 'how long to wait for the outcome (seconds, or 30s, 5m)', duration('--timeout'), 60_000)
    .action(async (kind: string, flags: SendFlags) => {
      const args = jsonOption('args', flags.args);
      try {
        const result = await withClient(flags, 'call', { kind, args }, (c, host, context) =>
          c.call(host, kind, args, { ...(flags.schemaVersion ? { version: flags.schemaVersion } : {}), context, timeoutMs: flags.timeout }),
        );
        const text = JSON.stringify(result, null, process.stdout.isTTY ? 2 : undefined);
        process.stdout.write(`${process.stdout.isTTY ? printable(text) : text}\n`);
      } catch (err) {
        if (err instanceof RemoteError) {
          process.stderr.write(`hostwall: ${kind} failed: ${printable(err.message)}\n`);
          process.exit(1);
        }
        throw err;
      }
    });
}
