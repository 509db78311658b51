/**
 * The bare path the issue compares against: one amqplib connection, a
 * consumer with the worker's prefetch, and per message only what any
 * consumer must do: parse the oslo envelope (both JSON layers), publish one
 * confirmed event on `hostwall.events`, and ack once the broker confirmed it.
 * No validation, no scheduling, no driver, no logging. TCP_NODELAY as
 * hostwall's transport sets it (src/transport/amqp091/options.ts).
 *
 * Runs as a child of bench/run.ts: connects, says `ready`, and consumes only
 * when told `go` (so its queue can be preloaded first).
 */
import * as amqp from 'amqplib';
import { applyExperiments } from './experiments';

interface Spec {
  amqpUrl: string;
  host: string;
  queue: string;
  prefetch: number;
}

const send = (m: unknown) => process.send?.(m);

async function main(): Promise<void> {
  applyExperiments();
  const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
  const conn = await amqp.connect(spec.amqpUrl, { noDelay: true, clientProperties: { connection_name: `hwbench-baseline:${spec.host}` } });
  const pub = await conn.createConfirmChannel();
  const ch = await conn.createChannel();
  await ch.prefetch(spec.prefetch, false);
  const routingKey = `${spec.host}.intent.succeeded`;
  let done = 0;

  const onMessage = (m: amqp.ConsumeMessage | null): void => {
    if (!m) return;
    const outer = JSON.parse(m.content.toString('utf8')) as Record<string, unknown>;
    const inner = JSON.parse(String(outer['oslo.message'])) as { method: string; _unique_id: string; args: { instance_uuid?: string }; _context_request_id?: string };
    const event = {
      event: 'intent.succeeded', version: '1.0', intent_id: inner._unique_id, request_id: inner._context_request_id ?? null,
      global_request_id: null, host: spec.host, at: new Date().toISOString(), kind: inner.method,
      instance_uuid: inner.args.instance_uuid ?? null, power_state: 'running', vm_state: 'active', task_state: null,
    };
    pub.publish('hostwall.events', routingKey, Buffer.from(JSON.stringify(event)), { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2 }, (err) => {
      if (err) ch.nack(m, false, true);
      else {
        ch.ack(m);
        done++;
      }
    });
  };

  process.on('message', (msg: { cmd: string }) => {
    if (msg.cmd === 'go') {
      ch.consume(spec.queue, onMessage, { noAck: false }).then(
        () => send({ type: 'consuming' }),
        (err: unknown) => send({ type: 'error', message: String(err) }),
      );
    } else if (msg.cmd === 'stop') {
      void (async () => {
        await ch.close().catch(() => undefined);
        await pub.close().catch(() => undefined);
        await conn.close().catch(() => undefined);
        send({ type: 'stopped', done });
        process.exit(0);
      })();
    }
  });
  send({ type: 'ready', pid: process.pid });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String(err) });
  process.exit(1);
});
