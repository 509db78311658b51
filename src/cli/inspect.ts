/**
 * `hostwall inspect --host H`: what did this host receive, and what came of
 * it? The host's recent intents with outcome and duration (from its worker's
 * intent store, asked through the wall as a `host.intents` call), and its
 * dead-letter queue with the reasons (looked at, and left in place).
 */
import type { Command } from 'commander';
import { IntentClient } from '../client/intent-client';
import { loadConfig } from '../config';
import { type RecordedIntent, RecordedIntentsPage } from '../intents';
import { printable } from '../limits/terminal-text';
import { DeadLetterReader } from '../replay/dead-letters';
import { describe } from '../replay/replay-message';
import { parseWhen } from '../replay/selection';
import { amqp091UrlOf } from '../worker/connect';
import { deadLetterQueueName } from '../worker/wire';
import { connectCli } from './connect';

interface InspectFlags {
  host: string;
  instance?: string;
  since: string;
  failed?: boolean;
  limit: string;
  deadLetters: boolean;
  amqpUrl?: string;
}

/** The rows asked for, page by page (host.intents 1.1: each reply is bounded in bytes). */
async function recentIntents(client: IntentClient, host: string, query: Record<string, unknown>, limit: number): Promise<RecordedIntent[]> {
  const rows: RecordedIntent[] = [];
  let before: string | undefined;
  while (rows.length < limit) {
    const reply = await client.call(host, 'host.intents', { ...query, limit: Math.min(1000, limit - rows.length), paged: true, ...(before ? { before } : {}) }, { context: { issuer: 'operator' }, timeoutMs: 30_000 });
    const page = RecordedIntentsPage.parse(reply);
    rows.push(...page.intents);
    if (!page.more || page.next === null || page.intents.length === 0) break;
    before = page.next;
  }
  return rows;
}

/** One intent as a row of the TTY table, its fields escaped (limits/terminal-text.ts). */
export function intentRow(r: RecordedIntent): string {
  const err = r.error ? `${r.error.code}: ${r.error.message}` : r.intent_id;
  return printable(`${r.received_at.padEnd(24)} ${r.kind.padEnd(22)} ${(r.instance_uuid ?? '-').padEnd(36)} ${r.state.padEnd(9)} ${String(r.duration_ms ?? '').padStart(6)}  ${err}`);
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description("a host's recent intents (outcome, duration, error) and its dead letters (reason)")
    .requiredOption('--host <host>', 'the host to inspect')
    .option('--instance <uuid>', 'only intents for this instance')
    .option('--since <time>', 'from this time: ISO 8601 or relative like -1h', '-1h')
    .option('--failed', 'only failed intents')
    .option('--limit <n>', 'at most n intents', '100')
    .option('--no-dead-letters', 'do not list the dead-letter queue')
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .action(async (f: InspectFlags) => {
      const config = loadConfig({ flags: f.amqpUrl ? { amqpUrl: f.amqpUrl } : {} });
      const tty = process.stdout.isTTY === true;
      const transport = await connectCli(config, 'inspect');
      try {
        const client = new IntentClient(transport, { controlExchange: config.controlExchange, topic: config.topic });
        const rows = await recentIntents(client, f.host, {
          since: parseWhen(f.since).toISOString(),
          ...(f.instance ? { instance_uuid: f.instance } : {}), ...(f.failed ? { state: 'failed' } : {}),
        }, Number(f.limit));
        if (tty) {
          process.stdout.write(`intents on ${f.host} since ${f.since} (newest first)\n`);
          process.stdout.write(`${'received'.padEnd(24)} ${'kind'.padEnd(22)} ${'instance'.padEnd(36)} ${'state'.padEnd(9)} ${'ms'.padStart(6)}  intent id / error\n`);
          for (const r of rows) process.stdout.write(`${intentRow(r)}\n`);
        } else {
          for (const r of rows) process.stdout.write(`${JSON.stringify({ type: 'intent', host: f.host, ...r })}\n`);
        }
        if (f.deadLetters) {
          const reader = await DeadLetterReader.open(amqp091UrlOf(config), deadLetterQueueName(f.host)).catch(() => undefined);
          if (!reader) return;
          try {
            if (tty) process.stdout.write(`\ndead letters in ${deadLetterQueueName(f.host)} (left in place; re-send with: hostwall replay --dead-letters --host ${f.host})\n`);
            for await (const h of reader.take(Number(f.limit))) {
              const item = describe(h.msg, config.topic);
              const line = { type: 'dead-letter', host: f.host, at: h.msg.at?.toISOString() ?? null, kind: item.kind ?? null, instance_uuid: item.instanceUuid ?? null, intent_id: item.intentId ?? null, reason: h.msg.reason ?? null };
              process.stdout.write(tty ? `${printable(`${String(line.at).padEnd(24)} ${String(line.kind ?? '?').padEnd(22)} ${String(line.instance_uuid ?? '-').padEnd(36)} ${line.reason}`)}\n` : `${JSON.stringify(line)}\n`);
            }
          } finally {
            await reader.close();
          }
        }
      } finally {
        await transport.close();
      }
    });
}
