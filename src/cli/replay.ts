/**
 * `hostwall replay`: re-send journaled (or, with --dead-letters, refused)
 * messages to their original routing key, selected by host, kind, instance
 * and time. The worker's dedupe makes re-sending an applied intent harmless
 * (its recorded outcome is published again, marked `replayed`); --as-new
 * gives each message a new intent id so it is applied again.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { printable } from '../limits/terminal-text';
import { loadIssuerKeys } from '../policy/identity';
import { DeadLetterReader } from '../replay/dead-letters';
import { type ItemStatus, replay, type SourceEntry } from '../replay/replay';
import type { ReplayItem } from '../replay/replay-message';
import { parseWhen, type Selection } from '../replay/selection';
import { readJournal } from '../store/journal-reader';
import { isReplay } from '../store/replay-marks';
import { amqp091UrlOf } from '../worker/connect';
import { deadLetterQueueName } from '../worker/wire';
import { connectCli } from './connect';

interface ReplayFlags {
  deadLetters?: boolean;
  host?: string;
  kind?: string;
  instance?: string;
  from?: string;
  to?: string;
  limit?: string;
  dryRun?: boolean;
  rate?: string;
  asNew?: boolean;
  includeReplays?: boolean;
  issuerKeysFile?: string;
  amqpUrl?: string;
}

async function* journalSource(url: string, sel: Selection, includeReplays: boolean): AsyncGenerator<SourceEntry> {
  for await (const r of readJournal({ url, from: sel.from ?? 'first', ...(sel.to ? { until: sel.to } : {}) })) {
    // Earlier replays are journaled too; re-sending them again would only repeat the same outcome.
    if (!includeReplays && isReplay(r.headers)) continue;
    yield {
      msg: { source: 'journal', ref: String(r.offset), exchange: r.exchange, routingKey: r.routingKey, headers: r.headers, contentType: r.contentType, contentEncoding: r.contentEncoding, body: r.body, at: r.timestamp },
    };
  }
}

async function* deadLetterSource(reader: DeadLetterReader): AsyncGenerator<SourceEntry> {
  for await (const h of reader.take()) yield { msg: h.msg, sent: h.remove, skipped: h.keep };
}

/** One message as a row of the TTY table (a dry run, or a message that was not sent), its fields escaped (limits/terminal-text.ts). */
export function row(item: ReplayItem, status: ItemStatus): string {
  const when = item.msg.source === 'journal' ? `#${item.msg.ref}` : (item.at?.toISOString() ?? '');
  const extra = item.msg.reason ? `  ${item.msg.reason}` : item.undecodable ? `  ${item.undecodable}` : '';
  return printable(`${when.padEnd(24)} ${(item.host ?? '-').padEnd(16)} ${(item.kind ?? '?').padEnd(22)} ${(item.instanceUuid ?? '-').padEnd(36)} ${status}${extra}`);
}

function json(item: ReplayItem, status: ItemStatus, detail?: string): string {
  return JSON.stringify({ status, source: item.msg.source, ref: item.msg.ref, host: item.host ?? null, kind: item.kind ?? null, instance_uuid: item.instanceUuid ?? null, intent_id: item.intentId ?? null, routing_key: item.msg.routingKey, at: item.at?.toISOString() ?? null, ...(item.msg.reason ? { reason: item.msg.reason } : {}), ...(detail ? { detail } : {}) });
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('re-send journaled (or dead-lettered) messages to their original routing key; applied intents are not applied again')
    .option('--dead-letters', 'read the host\'s dead-letter queue instead of the journal (needs --host); a message leaves it only once its re-send is confirmed')
    .option('--host <host>', 'only messages for this host')
    .option('--kind <glob>', 'only these kinds, e.g. "instance.*" or "volume.attach"')
    .option('--instance <uuid>', 'only intents for this instance')
    .option('--from <time>', 'from this time: ISO 8601 or relative like -2h')
    .option('--to <time>', 'until this time (exclusive)')
    .option('--limit <n>', 'at most n messages')
    .option('--dry-run', 'list what would be sent (a table on a TTY, JSON lines otherwise); send nothing')
    .option('--rate <n/s>', 'at most n messages per second, e.g. 50/s')
    .option('--as-new', 'give each message a new intent id, so the worker applies it again')
    .option('--include-replays', 'also re-send messages that were themselves replays')
    .option('--issuer-keys-file <file>', 'the issuers\' HMAC keys (the workers\' file): each signed message is signed anew by its issuer for now; without it a signed message keeps its old signature, refused once the workers\' --signature-window has passed')
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .action(async (f: ReplayFlags) => {
      const config = loadConfig({ flags: f.amqpUrl ? { amqpUrl: f.amqpUrl } : {} });
      const sel: Selection = {
        ...(f.host ? { host: f.host } : {}), ...(f.kind ? { kind: f.kind } : {}), ...(f.instance ? { instance: f.instance } : {}),
        ...(f.from ? { from: parseWhen(f.from) } : {}), ...(f.to ? { to: parseWhen(f.to) } : {}),
        ...(f.limit ? { limit: Number(f.limit) } : {}),
      };
      if (f.deadLetters && !f.host) throw new Error('--dead-letters needs --host (each host has its own dead-letter queue)');
      const rate = f.rate ? Number.parseFloat(f.rate) : undefined;
      if (rate !== undefined && !(rate > 0)) throw new Error(`--rate must be a positive number per second, got "${f.rate}"`);
      const tty = process.stdout.isTTY === true;
      const transport = f.dryRun ? undefined : await connectCli(config, 'replay');
      const reader = f.deadLetters && f.host ? await DeadLetterReader.open(amqp091UrlOf(config), deadLetterQueueName(f.host)) : undefined;
      const source = reader ? deadLetterSource(reader) : journalSource(amqp091UrlOf(config), sel, f.includeReplays === true);
      let done = 0;
      if (tty && f.dryRun) process.stdout.write(`${'at / offset'.padEnd(24)} ${'host'.padEnd(16)} ${'kind'.padEnd(22)} ${'instance'.padEnd(36)} status\n`);
      try {
        const report = await replay(source, {
          selection: sel, dryRun: f.dryRun === true, asNew: f.asNew === true, rate, topic: config.topic,
          keys: f.issuerKeysFile ? loadIssuerKeys(f.issuerKeysFile) : undefined,
          publish: (m) => {
            if (!transport) throw new Error('no transport in a dry run');
            return transport.publish(m);
          },
          onItem: (item, status, detail) => {
            done++;
            if (f.dryRun || !tty) process.stdout.write(`${tty ? row(item, status) : json(item, status, detail)}\n`);
            else if (status !== 'sent') process.stderr.write(`\n${row(item, status)}${detail ? `  ${printable(detail)}` : ''}\n`);
            if (tty && !f.dryRun) {
              const total = sel.limit;
              const bar = total ? `[${'#'.repeat(Math.round((done / total) * 30)).padEnd(30, '.')}] ` : '';
              process.stderr.write(`\r${bar}${done}${total ? `/${total}` : ''} re-sent`);
            }
          },
        });
        if (tty && !f.dryRun) process.stderr.write('\n');
        const summary = `${report.selected} selected of ${report.scanned} read; ${f.dryRun ? 'dry run: nothing sent' : `${report.sent} sent, ${report.unroutable} unroutable, ${report.failed} failed`}`;
        process.stderr.write(`hostwall replay: ${summary}\n`);
        if (report.unroutable > 0 || report.failed > 0) process.exitCode = 1;
      } finally {
        await reader?.close();
        await transport?.close();
      }
    });
}
