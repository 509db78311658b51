/**
 * `hostwall inspect --host H`: what did this host receive, and what came of
 * it? The host's recent intents with outcome and duration, and its
 * dead-letter queue with the reasons (looked at, and left in place).
 *
 * It works when the worker is down, which is when it is needed:
 * - the intents come from the worker's intent store: asked through the wall
 *   (a `host.intents` call) when a worker consumes `<topic>.H`, or read from
 *   the file with `--store PATH` (read-only, offline: intent-store-reader.ts;
 *   while the worker runs it holds the file, and is asked instead);
 * - the dead letters are read from RabbitMQ directly, worker or not.
 * A part that cannot be shown is said on stderr, the other part is shown all
 * the same, and the exit code is 1; with no broker and no store to read, it
 * is one line (exit 1), as for every command.
 */
import type { Command } from 'commander';
import { IntentClient } from '../client/intent-client';
import { type Config, loadConfig } from '../config';
import { queryIntentsPage } from '../dispatch/intent-records';
import { type RecordedIntent, RecordedIntentsPage } from '../intents';
import { printable } from '../limits/terminal-text';
import { DeadLetterReader } from '../replay/dead-letters';
import { describe } from '../replay/replay-message';
import type { Transport } from '../transport/transport';
import { offlineRecords, StoreHeldError, storeFile } from '../store/intent-store-reader';
import { deadLetterQueueName } from '../oslo/wire/oslo-wire';
import { connectCli } from './connect';
import { duration, pointInTime, positiveInt } from './option-values';

interface InspectFlags {
  host: string;
  instance?: string;
  since: Date;
  failed?: boolean;
  limit: number;
  deadLetters: boolean;
  store?: string;
  timeout: number;
  amqpUrl?: string;
}

interface IntentQuery {
  since: string;
  instance_uuid?: string;
  state?: 'failed';
}

/** The rows asked for, page by page, from `page` (a host.intents 1.1 call, or the same query on the store file). */
async function pages(page: (q: IntentQuery & { limit: number; before?: string }) => Promise<RecordedIntentsPage>, query: IntentQuery, limit: number): Promise<RecordedIntent[]> {
  const rows: RecordedIntent[] = [];
  let before: string | undefined;
  while (rows.length < limit) {
    const p = await page({ ...query, limit: Math.min(1000, limit - rows.length), ...(before ? { before } : {}) });
    rows.push(...p.intents);
    if (!p.more || p.next === null || p.intents.length === 0) break;
    before = p.next;
  }
  return rows;
}

const fromStore = (path: string, query: IntentQuery, limit: number): Promise<RecordedIntent[]> => {
  const records = offlineRecords(path);
  return pages(async (q) => queryIntentsPage({ ...q, paged: true }, records), query, limit);
};

/** Asked through the wall; undefined (said on stderr) when no worker consumes the host's queue. */
async function fromWorker(transport: Transport, config: Config, f: InspectFlags, query: IntentQuery): Promise<RecordedIntent[] | undefined> {
  const queue = `${config.topic}.${f.host}`;
  const state = transport.inspectQueue ? await transport.inspectQueue(queue) : { messages: 0, consumers: 1 };
  if (state === undefined || state.consumers === 0) {
    process.stderr.write(`hostwall inspect: no worker consumes ${queue}: its intents are not listed; read its intent store offline with --store <its state path>\n`);
    return undefined;
  }
  const client = new IntentClient(transport, { controlExchange: config.controlExchange, topic: config.topic });
  return pages(async (q) => RecordedIntentsPage.parse(await client.call(f.host, 'host.intents', { ...q, paged: true }, { context: { issuer: 'operator' }, timeoutMs: f.timeout })), query, f.limit);
}

/** One intent as a row of the TTY table, its fields escaped (limits/terminal-text.ts). */
export function intentRow(r: RecordedIntent): string {
  const err = r.error ? `${r.error.code}: ${r.error.message}` : r.intent_id;
  return printable(`${r.received_at.padEnd(24)} ${r.kind.padEnd(22)} ${(r.instance_uuid ?? '-').padEnd(36)} ${r.state.padEnd(9)} ${String(r.duration_ms ?? '').padStart(6)}  ${err}`);
}

function printIntents(host: string, since: Date, rows: RecordedIntent[], tty: boolean, source: string): void {
  if (!tty) {
    for (const r of rows) process.stdout.write(`${JSON.stringify({ type: 'intent', host, ...r })}\n`);
    return;
  }
  process.stdout.write(`intents on ${host} since ${since.toISOString()} (newest first; ${source})\n`);
  process.stdout.write(`${'received'.padEnd(24)} ${'kind'.padEnd(22)} ${'instance'.padEnd(36)} ${'state'.padEnd(9)} ${'ms'.padStart(6)}  intent id / error\n`);
  for (const r of rows) process.stdout.write(`${intentRow(r)}\n`);
}

async function printDeadLetters(transport: Transport, config: Config, f: InspectFlags, tty: boolean): Promise<void> {
  const queue = deadLetterQueueName(f.host);
  const reader = await DeadLetterReader.open(transport, queue);
  try {
    if (tty) process.stdout.write(`\ndead letters in ${queue}: ${reader.count} (left in place; re-send with: hostwall replay --dead-letters --host ${f.host})\n`);
    for await (const h of reader.take(f.limit)) {
      const item = describe(h.msg, config.topic);
      const line = { type: 'dead-letter', host: f.host, at: h.msg.at?.toISOString() ?? null, kind: item.kind ?? null, instance_uuid: item.instanceUuid ?? null, intent_id: item.intentId ?? null, reason: h.msg.reason ?? null };
      process.stdout.write(tty ? `${printable(`${String(line.at).padEnd(24)} ${String(line.kind ?? '?').padEnd(22)} ${String(line.instance_uuid ?? '-').padEnd(36)} ${line.reason}`)}\n` : `${JSON.stringify(line)}\n`);
    }
  } finally {
    await reader.close();
  }
}

const oneLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description("a host's recent intents (outcome, duration, error) and its dead letters (reason); works with the worker down")
    .requiredOption('--host <host>', 'the host to inspect')
    .option('--instance <uuid>', 'only intents for this instance')
    .option('--since <time>', 'from this time: ISO 8601 or relative like -1h (default -1h)', pointInTime('--since'))
    .option('--failed', 'only failed intents')
    .option('--limit <n>', 'at most n intents, and n dead letters', positiveInt('--limit'), 100)
    .option('--no-dead-letters', 'do not list the dead-letter queue')
    .option('--store <path>', "read the intents from the host's intent store file (or its worker's state path), read-only: for a worker that is down")
    .option('--timeout <duration>', 'deadline of connecting, of each broker operation and of the worker\'s answer (e.g. 10s)', duration('--timeout'), 30_000)
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .action(async (opts: Omit<InspectFlags, 'since'> & { since?: Date }) => {
      const f: InspectFlags = { ...opts, since: opts.since ?? new Date(Date.now() - 3_600_000) };
      const config = loadConfig({ flags: f.amqpUrl ? { amqpUrl: f.amqpUrl } : {} });
      const tty = process.stdout.isTTY === true;
      const query: IntentQuery = { since: f.since.toISOString(), ...(f.instance ? { instance_uuid: f.instance } : {}), ...(f.failed ? { state: 'failed' } : {}) };
      let complete = true;
      let rows: RecordedIntent[] | undefined;
      let source = 'asked the worker';
      if (f.store !== undefined) {
        const path = storeFile(f.store, f.host);
        try {
          rows = await fromStore(path, query, f.limit);
          source = `read from ${path}`;
        } catch (err) {
          if (!(err instanceof StoreHeldError)) throw err;
          process.stderr.write(`hostwall inspect: ${err.message}: asking the worker instead\n`);
        }
      }
      // Without the store's rows the broker is needed for everything: no broker is one line (exit 1).
      const transport = rows === undefined ? await connectCli(config, 'inspect', f.timeout) : undefined;
      // With the store's rows, the broker is needed for the dead letters only: not reaching it is said like any part not shown.
      let ownTransport: Transport | undefined;
      try {
        if (transport) {
          rows = await fromWorker(transport, config, f, query).catch((err: unknown) => {
            process.stderr.write(`hostwall inspect: intents not listed: ${oneLine(err)}\n`);
            return undefined;
          });
        }
        if (rows === undefined) complete = false;
        else printIntents(f.host, f.since, rows, tty, source);
        if (f.deadLetters) {
          const reading = async (): Promise<void> => {
            ownTransport = transport ? undefined : await connectCli(config, 'inspect', f.timeout);
            const t = transport ?? ownTransport;
            if (t) await printDeadLetters(t, config, f, tty);
          };
          await reading().catch((err: unknown) => {
            complete = false;
            process.stderr.write(`hostwall inspect: dead letters not listed: ${oneLine(err)}\n`);
          });
        }
      } finally {
        await transport?.close();
        await ownTransport?.close();
      }
      if (!complete) process.exitCode = 1;
    });
}
