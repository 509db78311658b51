/**
 * `hostwall status --host H`: is H's worker there and answering? One line,
 * from any machine that reaches the broker; exit 0 when it answered, 1 when
 * not.
 *
 * Two questions, in this order, because neither alone is enough:
 * 1. the broker: does anyone consume `compute.H` (a passive declare: the
 *    consumer count and the messages waiting)? This answers at once, also
 *    when the worker is down — when the question matters most — without
 *    waiting for a call to time out;
 * 2. the worker itself: a `host.inventory` call through the wall. A consumer
 *    alone does not prove the worker works (it may be stuck on a hung
 *    libvirtd); an answer proves the whole path — broker, consumer,
 *    dispatcher, driver, reply — and says what the host holds. A refusal
 *    (issuer mode verified, say) still proves the worker answers.
 *
 * The worker's own readiness details (Nova registration, reconnects) are on
 * its /readyz and /metrics, which are local to the host.
 */
import type { Command } from 'commander';
import { IntentClient } from '../client/intent-client';
import { TransportError, UsageError } from '../errors';
import { HostInventory } from '../intents';
import { RemoteError } from '../oslo/failure';
import type { QueueState, Transport } from '../transport/transport';
import { deadLetterQueueName } from '../oslo/wire/oslo-wire';
import { connectCli } from './connect';
import { addSettingFlags, settingsFromFlags } from './settings-flags';

export interface HostStatus {
  host: string;
  state: 'up' | 'down' | 'not answering';
  line: string;
  queue: QueueState | null;
  dead_letters: number | null;
  answer_ms: number | null;
}

async function queueOf(transport: Transport, queue: string): Promise<QueueState | undefined | null> {
  if (!transport.inspectQueue) return null;
  return transport.inspectQueue(queue);
}

/** The status of one host's worker, asked through the broker. */
export async function hostStatus(transport: Transport, o: { host: string; topic: string; controlExchange: string; timeoutMs: number }): Promise<HostStatus> {
  const queueName = `${o.topic}.${o.host}`;
  const queue = await queueOf(transport, queueName);
  const dead = await queueOf(transport, deadLetterQueueName(o.host)).catch(() => undefined);
  const deadLetters = dead ? dead.messages : null;
  const dl = deadLetters ? `, ${deadLetters} dead letter(s) in ${deadLetterQueueName(o.host)}` : '';
  const base = { host: o.host, queue: queue ?? null, dead_letters: deadLetters };
  if (queue === undefined) return { ...base, state: 'down', answer_ms: null, line: `${o.host}: down: no queue ${queueName} on the broker (no worker for this host has run here)` };
  if (queue && queue.consumers === 0) return { ...base, state: 'down', answer_ms: null, line: `${o.host}: down: nobody consumes ${queueName} (${queue.messages} message(s) waiting)${dl}` };
  const q = queue ? `${queueName}: ${queue.consumers} consumer(s), ${queue.messages} waiting${dl}` : `${queueName}: consumers unknown over this transport`;
  const client = new IntentClient(transport, { controlExchange: o.controlExchange, topic: o.topic });
  const t0 = Date.now();
  try {
    const inv = HostInventory.parse(await client.call(o.host, 'host.inventory', {}, { context: { issuer: 'operator' }, timeoutMs: o.timeoutMs }));
    const ms = Date.now() - t0;
    return { ...base, state: 'up', answer_ms: ms, line: `${o.host}: up: answered host.inventory in ${ms} ms (${inv.hypervisor_type} ${inv.hypervisor_version}, ${inv.instances} guest(s), ${inv.vcpus} vcpus, ${inv.memory_mb} MB); ${q}` };
  } catch (err) {
    const ms = Date.now() - t0;
    if (err instanceof RemoteError) return { ...base, state: 'up', answer_ms: ms, line: `${o.host}: up: answered in ${ms} ms, refusing host.inventory (${err.message}); ${q}` };
    if (err instanceof TransportError && err.details.timeout === true) {
      return { ...base, state: 'not answering', answer_ms: null, line: `${o.host}: not answering: no reply to host.inventory in ${o.timeoutMs / 1000} s although ${q} (a stuck worker or hypervisor? see its /readyz and log)` };
    }
    throw err;
  }
}

export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .description('is a host\'s worker there and answering? one line (exit 0 when it answered, 1 when not)')
    .option('--timeout <seconds>', 'how long to wait for the worker\'s answer', '10')
    .option('--json', 'print the status as one JSON object');
  addSettingFlags(cmd, ['host', 'amqpUrl', 'transport', 'controlExchange', 'topic', 'amqp10Addresses', 'amqp10AdminUrl', 'tlsCaFile', 'tlsCertFile', 'tlsKeyFile']).action(
    async (opts: Record<string, unknown>) => {
      const timeoutS = Number(opts.timeout);
      if (!(timeoutS > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got "${String(opts.timeout)}"`);
      const { config } = settingsFromFlags(opts);
      const transport = await connectCli(config, 'status');
      try {
        const s = await hostStatus(transport, { host: config.host, topic: config.topic, controlExchange: config.controlExchange, timeoutMs: timeoutS * 1000 });
        process.stdout.write(`${opts.json === true ? JSON.stringify(s) : s.line}\n`);
        if (s.state !== 'up') process.exitCode = 1;
      } finally {
        await transport.close();
      }
    },
  );
}
