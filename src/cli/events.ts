/**
 * `hostwall events`: tail the native events of one host (or all), filtered by
 * event name glob. JSON lines, one per event; a short table line on a TTY.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { EVENTS_EXCHANGE } from '../events/schemas';
import { globToRegExp } from '../replay/selection';
import { connectCli } from './connect';

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description(`tail native events from the ${EVENTS_EXCHANGE} exchange`)
    .option('--host <host>', 'only this host (default: all hosts)')
    .option('--kind <glob>', 'only events whose name matches, e.g. "intent.*" or "instance.state"', '**')
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .option('--count <n>', 'exit after n events')
    .action(async (flags: { host?: string; kind: string; amqpUrl?: string; count?: string }) => {
      const config = loadConfig({ flags: flags.amqpUrl ? { amqpUrl: flags.amqpUrl } : {} });
      const match = globToRegExp(flags.kind);
      const limit = flags.count ? Number(flags.count) : Number.POSITIVE_INFINITY;
      const transport = await connectCli(config.amqpUrl, 'events');
      const queue = `hostwall.tail.${randomUUID()}`;
      await transport.declare({
        exchanges: [{ name: EVENTS_EXCHANGE, type: 'topic', durable: true, autoDelete: false, arguments: {} }],
        queues: [{ name: queue, durable: false, autoDelete: true, exclusive: true, arguments: {} }],
        bindings: [{ queue, exchange: EVENTS_EXCHANGE, routingKey: flags.host ? `${flags.host}.#` : '#' }],
      });
      let seen = 0;
      const done = new Promise<void>((resolve) => {
        void transport.consume([queue], { prefetch: 100 }, (m) => {
          void m.settle('ack');
          let ev: Record<string, unknown>;
          try {
            ev = JSON.parse(m.body.toString('utf8')) as Record<string, unknown>;
          } catch {
            return;
          }
          const name = typeof ev.event === 'string' ? ev.event : m.routingKey.split('.').slice(1).join('.');
          if (!match.test(name)) return;
          if (process.stdout.isTTY) {
            const who = ev.instance_uuid ?? ev.kind ?? '';
            const err = typeof ev.error === 'object' && ev.error !== null ? ` ${JSON.stringify(ev.error)}` : '';
            process.stdout.write(`${String(ev.at ?? '')} ${String(ev.host ?? '')} ${name} ${String(who)} ${String(ev.power_state ?? '')}${err}\n`);
          } else {
            process.stdout.write(`${JSON.stringify(ev)}\n`);
          }
          if (++seen >= limit) resolve();
        });
      });
      const stop = () => transport.close().finally(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await done;
      await transport.close();
    });
}
