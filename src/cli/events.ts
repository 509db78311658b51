/**
 * `hostwall events`: tail the native events of one host (or all), filtered by
 * event name glob. JSON lines, one per event; a short table line on a TTY.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { EVENTS_EXCHANGE, HostwallEvent } from '../events/schemas';
import { printable } from '../limits/terminal-text';
import { globToRegExp } from '../replay/selection';
import { ackOnReceipt } from '../transport/transport';
import { connectCli } from './connect';
import { eventLine } from './event-tail';
import { duration, positiveInt } from './option-values';

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description(`tail native events from the ${EVENTS_EXCHANGE} exchange`)
    .option('--host <host>', 'only this host (default: all hosts)')
    .option('--kind <glob>', 'only events whose name matches, e.g. "intent.*" or "instance.state"', '**')
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .option('--instance <uuid>', 'only events about this instance')
    .option('-f, --follow', 'keep tailing until interrupted (default: stop after --idle seconds without events)')
    .option('--idle <duration>', 'without --follow, stop after this long with no event (seconds, or 500ms, 1m)', duration('--idle'), 5_000)
    .option('--count <n>', 'exit after n events', positiveInt('--count'))
    .action(async (flags: { host?: string; kind: string; instance?: string; follow?: boolean; idle: number; amqpUrl?: string; count?: number }) => {
      const config = loadConfig({ flags: flags.amqpUrl ? { amqpUrl: flags.amqpUrl } : {} });
      const match = globToRegExp(flags.kind);
      const limit = flags.count ?? Number.POSITIVE_INFINITY;
      const transport = await connectCli(config, 'events');
      const queue = `hostwall.tail.${randomUUID()}`;
      await transport.declare({
        exchanges: [{ name: EVENTS_EXCHANGE, type: 'topic', durable: true, autoDelete: false, arguments: {} }],
        queues: [{ name: queue, durable: false, autoDelete: true, exclusive: true, arguments: {} }],
        bindings: [{ queue, exchange: EVENTS_EXCHANGE, routingKey: flags.host ? `${flags.host}.#` : '#' }],
      });
      let seen = 0;
      let idleTimer: NodeJS.Timeout | undefined;
      const done = new Promise<void>((resolve) => {
        const rearm = () => {
          if (flags.follow) return;
          if (idleTimer) clearTimeout(idleTimer);
          idleTimer = setTimeout(resolve, flags.idle);
        };
        rearm();

        void transport.consume([queue], { prefetch: 100 }, ackOnReceipt((m) => {
          let ev: Record<string, unknown>;
          try {
            ev = JSON.parse(m.body.toString('utf8')) as Record<string, unknown>;
          } catch {
            return;
          }
          const name = typeof ev.event === 'string' ? ev.event : m.routingKey.split('.').slice(1).join('.');
          if (!match.test(name)) return;
          if (flags.instance && ev.instance_uuid !== flags.instance) return;
          rearm();
          const known = HostwallEvent.safeParse(ev);
          if (process.stdout.isTTY && known.success) {
            process.stdout.write(`${eventLine(known.data)}\n`);
          } else if (process.stdout.isTTY) {
            process.stdout.write(`${printable(JSON.stringify(ev))}\n`);
          } else {
            process.stdout.write(`${JSON.stringify(ev)}\n`);
          }
          if (++seen >= limit) resolve();
        }));
      });
      const stop = () => transport.close().finally(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await done;
      await transport.close();
    });
}
