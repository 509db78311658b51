/**
 * `hostwall replay`: re-send journaled (or, with --dead-letters, refused)
 * messages to their original routing key, selected by host, kind, instance
 * and time. The worker's dedupe makes re-sending an applied intent harmless
 * (its recorded outcome is published again, marked `replayed`); --as-new
 * gives each message a new intent id so it is applied again.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { printable } from '../limits/terminal-text';
import { ConfigError, InvariantError } from '../errors';
import { loadIssuerKeys } from '../policy/identity';
import { DeadLetterReader } from '../replay/dead-letters';
import { type ItemStatus, replay, type ReplayOptions, type SourceEntry } from '../replay/replay';
import type { ReplayItem } from '../replay/replay-message';
import type { Selection } from '../replay/selection';
import { collect, deadLetterSource, journalSource, replayOf } from '../replay/sources';
import { deadLetterQueueName } from '../oslo/wire/oslo-wire';
import { connectCli } from './connect';
import { duration, pointInTime, positiveInt, ratePerSecond } from './option-values';
import { confirmLargeReplay } from './replay-confirm';

interface ReplayFlags {
  deadLetters?: boolean;
  host?: string;
  allHosts?: boolean;
  kind?: string;
  instance?: string;
  from?: Date;
  to?: Date;
  limit?: number;
  dryRun?: boolean;
  rate?: number;
  asNew?: boolean;
  includeReplays?: boolean;
  issuerKeysFile?: string;
  yes?: boolean;
  confirmAbove: number;
  timeout?: number;
  amqpUrl?: string;
}

/** Messages selected without asking, by default: a replay larger than this asks first (or needs --yes). */
const CONFIRM_ABOVE = 100;

/** One message as a row of the TTY table (a dry run, or a message that was not sent), its fields escaped (limits/terminal-text.ts). */
export function row(item: ReplayItem, status: ItemStatus): string {
  const when = item.msg.source === 'journal' ? `#${item.msg.ref}` : (item.at?.toISOString() ?? '');
  const extra = item.msg.reason ? `  ${item.msg.reason}` : item.undecodable ? `  ${item.undecodable}` : '';
  return printable(`${when.padEnd(24)} ${(item.host ?? '-').padEnd(16)} ${(item.kind ?? '?').padEnd(22)} ${(item.instanceUuid ?? '-').padEnd(36)} ${status}${extra}`);
}

function json(item: ReplayItem, status: ItemStatus, detail?: string): string {
  return JSON.stringify({ status, source: item.msg.source, ref: item.msg.ref, host: item.host ?? null, kind: item.kind ?? null, instance_uuid: item.instanceUuid ?? null, intent_id: item.intentId ?? null, routing_key: item.msg.routingKey, at: item.at?.toISOString() ?? null, ...(item.msg.reason ? { reason: item.msg.reason } : {}), ...(detail ? { detail } : {}) });
}

/** Which host a replay is for, refusing a selection that names none (issue 13: it would take the whole journal). */
function hostSelection(f: ReplayFlags): Pick<Selection, 'host'> {
  if (f.host !== undefined && f.allHosts) throw new ConfigError('--host and --all-hosts together: choose one');
  if (f.deadLetters && f.host === undefined) throw new ConfigError('--dead-letters needs --host (each host has its own dead-letter queue)');
  if (f.host === undefined && !f.allHosts) throw new ConfigError('replay needs --host <host>, or --all-hosts to select the messages of every host');
  return f.host !== undefined ? { host: f.host } : {};
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('re-send journaled (or dead-lettered) messages to their original routing key; applied intents are not applied again')
    .option('--dead-letters', 'read the host\'s dead-letter queue instead of the journal (needs --host): the messages it holds when the command starts; a message leaves it only once its re-send is confirmed, and one refused again waits there for the next run')
    .option('--host <host>', 'only messages for this host (this or --all-hosts is required)')
    .option('--all-hosts', 'messages for every host')
    .option('--kind <glob>', 'only these kinds, e.g. "instance.*" or "volume.attach"')
    .option('--instance <uuid>', 'only intents for this instance')
    .option('--from <time>', 'from this time: ISO 8601 or relative like -2h', pointInTime('--from'))
    .option('--to <time>', 'until this time (exclusive); the journal is read up to its end as it is when the command starts', pointInTime('--to'))
    .option('--limit <n>', 'at most n messages', positiveInt('--limit'))
    .option('--dry-run', 'list what would be sent (a table on a TTY, JSON lines otherwise); send nothing')
    .option('--rate <n/s>', 'at most n messages per second, e.g. 50/s or 600/m', ratePerSecond('--rate'))
    .option('--as-new', 'give each message a new intent id, so the worker applies it again')
    .option('--include-replays', 'also re-send messages that were themselves replays')
    .option('--issuer-keys-file <file>', 'the issuers\' HMAC keys (the workers\' file): each signed message is signed anew by its issuer for now; without it a signed message keeps its old signature, refused once the workers\' --signature-window has passed')
    .option('--confirm-above <n>', 'ask before re-sending more than n messages (without a terminal: refuse unless --yes)', positiveInt('--confirm-above'), CONFIRM_ABOVE)
    .option('-y, --yes', 'do not ask, however many messages are selected')
    .option('--timeout <duration>', 'deadline of each broker operation: connecting, reading, each confirm (e.g. 10s)', duration('--timeout'))
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .action(async (f: ReplayFlags) => {
      const config = loadConfig({ flags: f.amqpUrl ? { amqpUrl: f.amqpUrl } : {} });
      const sel: Selection = {
        ...hostSelection(f), ...(f.kind ? { kind: f.kind } : {}), ...(f.instance ? { instance: f.instance } : {}),
        ...(f.from ? { from: f.from } : {}), ...(f.to ? { to: f.to } : {}), ...(f.limit !== undefined ? { limit: f.limit } : {}),
      };
      const runId = randomUUID();
      const tty = process.stdout.isTTY === true;
      const dry = f.dryRun === true;
      // Reading (the journal, dead letters) goes through it too, dry run or not: its TLS and deadlines.
      const transport = await connectCli(config, 'replay', f.timeout);
      let reader: DeadLetterReader | undefined;
      try {
        reader = f.deadLetters && f.host !== undefined ? await DeadLetterReader.open(transport, deadLetterQueueName(f.host)) : undefined;
        const base: Omit<ReplayOptions, 'dryRun' | 'onItem'> = {
          selection: sel, asNew: f.asNew === true, rate: f.rate, topic: config.topic, runId,
          keys: f.issuerKeysFile ? loadIssuerKeys(f.issuerKeysFile) : undefined,
          publish: (m) => {
            if (dry) throw new InvariantError('nothing is published in a dry run');
            return transport.publish(m);
          },
        };
        let source: AsyncIterable<SourceEntry>;
        let total = sel.limit;
        // Nothing to ask about when the limit is below the threshold: one pass.
        if (dry || f.yes || (sel.limit !== undefined && sel.limit <= f.confirmAbove)) {
          source = reader ? deadLetterSource(reader, runId) : journalSource({ transport, selection: sel, includeReplays: f.includeReplays === true });
        } else {
          // A first pass counts what would be sent; the second sends exactly that (the same dead letters, held; the same journal offsets).
          let stoppedAt: number | undefined;
          const held = reader ? await collect(deadLetterSource(reader, runId)) : undefined;
          const first = held ? replayOf(held) : journalSource({ transport, selection: sel, includeReplays: f.includeReplays === true, onStop: (o) => { stoppedAt = o; } });
          const counted = await replay(first, { ...base, dryRun: true });
          const hosts = new Set(counted.items.map((i) => i.item.host)).size;
          const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
          if (!(await confirmLargeReplay({ selected: counted.selected, hosts, asNew: f.asNew === true, threshold: f.confirmAbove, yes: false, interactive }))) {
            process.stderr.write('hostwall replay: nothing sent\n');
            process.exitCode = 1;
            return;
          }
          total = counted.selected;
          source = held ? replayOf(held) : journalSource({ transport, selection: sel, includeReplays: f.includeReplays === true, ...(stoppedAt !== undefined ? { until: stoppedAt } : {}) });
        }
        let done = 0;
        if (tty && dry) process.stdout.write(`${'at / offset'.padEnd(24)} ${'host'.padEnd(16)} ${'kind'.padEnd(22)} ${'instance'.padEnd(36)} status\n`);
        const report = await replay(source, {
          ...base, dryRun: dry,
          onItem: (item, status, detail) => {
            done++;
            if (dry || !tty) process.stdout.write(`${tty ? row(item, status) : json(item, status, detail)}\n`);
            else if (status !== 'sent') process.stderr.write(`\n${row(item, status)}${detail ? `  ${printable(detail)}` : ''}\n`);
            if (tty && !dry) {
              const bar = total ? `[${'#'.repeat(Math.round((done / total) * 30)).padEnd(30, '.')}] ` : '';
              process.stderr.write(`\r${bar}${done}${total ? `/${total}` : ''} re-sent`);
            }
          },
        });
        if (tty && !dry) process.stderr.write('\n');
        const summary = `${report.selected} selected of ${report.scanned} read; ${dry ? 'dry run: nothing sent' : `${report.sent} sent, ${report.unroutable} unroutable, ${report.failed} failed`}`;
        process.stderr.write(`hostwall replay: ${summary}\n`);
        if (report.unroutable > 0 || report.failed > 0) process.exitCode = 1;
      } finally {
        await reader?.close();
        await transport.close();
      }
    });
}
