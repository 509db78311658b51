/**
 * The bare path the issue compares against: one amqplib connection, a
 * consumer with the worker's prefetch, and per message only what any
 * consumer must do: parse the oslo envelope (both JSON layers), publish one
 * confirmed event on `hostwall.events`, and ack once the broker confirmed it.
 * No validation, no scheduling, no driver, no logging. TCP_NODELAY as
 * hostwall's transport sets it (src/transport/amqp091/options.ts).
 *
 * With `extra` (the "same messages" baseline) it also publishes, per
 * message, copies of the other messages hostwall publishes for one intent
 * (captured from the worker by the parent: intent.accepted, Nova's .start
 * and .end, instance.state), and its event is a copy of a real
 * intent.succeeded with this message's ids: the broker does the work of
 * hostwall's event contract, the consumer does nothing else. Its throughput
 * is what any implementation of that contract can reach on this broker.
 *
 * Runs as a child of bench/run.ts: connects, says `ready`, and consumes only
 * when told `go` (so its queue can be preloaded first).
 */
import * as amqp from 'amqplib';
import { applyExperiments } from './experiments';
import { FloorWork } from './floor-work';
import { LoopMeter } from './loop-meter';

export interface CapturedMessage {
  exchange: string;
  routingKey: string;
  /** base64 */
  body: string;
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
}

export interface BaselineSpec {
  amqpUrl: string;
  host: string;
  queue: string;
  prefetch: number;
  /** Published as they are, each confirmed, for every message. */
  extra?: CapturedMessage[];
  /** A real intent.succeeded body (JSON) used as the event's template. */
  succeeded?: string;
  /**
   * The floor: before its messages, the intent's hypervisor calls and its
   * durable record (bench/floor-work.ts) on these guests, in this store file.
   */
  work?: { uuids: string[]; storePath: string };
}

const send = (m: unknown) => process.send?.(m);

/** The fields of an oslo cast this consumer reads. */
type Cast = { method: string; _unique_id: string; args: { instance_uuid?: string }; _context_request_id?: string };

async function main(): Promise<void> {
  applyExperiments();
  const spec = JSON.parse(process.argv[2] ?? '{}') as BaselineSpec;
  const extra = (spec.extra ?? []).map((m) => ({ ...m, bytes: Buffer.from(m.body, 'base64') }));
  const template = spec.succeeded ? (JSON.parse(spec.succeeded) as Record<string, unknown>) : undefined;
  const conn = await amqp.connect(spec.amqpUrl, { noDelay: true, clientProperties: { connection_name: `hwbench-baseline:${spec.host}` } });
  const pub = await conn.createConfirmChannel();
  const ch = await conn.createChannel();
  await ch.prefetch(spec.prefetch, false);
  const routingKey = `${spec.host}.intent.succeeded`;
  const work = spec.work ? new FloorWork(spec.work.uuids, spec.work.storePath) : undefined;
  let done = 0;

  const onMessage = (m: amqp.ConsumeMessage | null): void => {
    if (!m) return;
    const text = m.content.toString('utf8');
    const outer = JSON.parse(text) as Record<string, unknown>;
    const inner = JSON.parse(String(outer['oslo.message'])) as Cast;
    if (!work) {
      publishAll(m, inner);
      return;
    }
    const uuid = inner.args.instance_uuid ?? '';
    work
      .started(inner._unique_id, inner.method, uuid, text)
      .then(() => {
        const state = work.apply(inner.method, uuid);
        return work.finished(inner._unique_id, JSON.stringify({ outcome: 'succeeded', power_state: state }));
      })
      .then(
        () => publishAll(m, inner),
        (err: unknown) => {
          // The run fails on this (bench/run.ts races the drain with it); requeued, the message would only fail again.
          send({ type: 'error', message: `floor: ${String(err)}` });
          ch.nack(m, false, false);
        },
      );
  };

  const publishAll = (m: amqp.ConsumeMessage, inner: Cast): void => {
    const ids = { intent_id: inner._unique_id, request_id: inner._context_request_id ?? null, host: spec.host, at: new Date().toISOString(), kind: inner.method };
    const event = template
      ? { ...template, ...ids }
      : {
          event: 'intent.succeeded', version: '1.0', ...ids, global_request_id: null,
          instance_uuid: inner.args.instance_uuid ?? null, power_state: 'running', vm_state: 'active', task_state: null,
        };
    let left = extra.length + 1;
    let failed = false;
    const confirmed = (err: unknown) => {
      if (err) failed = true;
      if (--left > 0) return;
      if (failed) ch.nack(m, false, true);
      else {
        ch.ack(m);
        done++;
      }
    };
    for (const x of extra) pub.publish(x.exchange, x.routingKey, x.bytes, { contentType: x.contentType, contentEncoding: x.contentEncoding, deliveryMode: 2, priority: 0, headers: {} }, confirmed);
    pub.publish('hostwall.events', routingKey, Buffer.from(JSON.stringify(event)), { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2 }, confirmed);
  };

  const loop = new LoopMeter();
  process.on('message', (msg: { cmd: string; on?: boolean }) => {
    if (msg.cmd === 'loop') {
      if (msg.on) loop.start();
      else send({ type: 'loop', ...loop.stop() });
    } else if (msg.cmd === 'go') {
      ch.consume(spec.queue, onMessage, { noAck: false }).then(
        () => send({ type: 'consuming' }),
        (err: unknown) => send({ type: 'error', message: String(err) }),
      );
    } else if (msg.cmd === 'stop') {
      void (async () => {
        await ch.close().catch(() => undefined);
        await pub.close().catch(() => undefined);
        await conn.close().catch(() => undefined);
        work?.close();
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
