/**
 * `hostwall demo`: a worker on the local broker, and the story hostwall
 * exists for, step by step with the events each step caused. Exits 0 only
 * when every step had the outcome the story expects.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { IntentClient } from '../client/intent-client';
import { type Config, loadConfig } from '../config';
import { openConfiguredDriver } from '../drivers/libvirt/options';
import { createLogger } from '../log';
import type { Transport } from '../transport/transport';
import { createAmqp091Transport } from '../transport/amqp091';
import { parseBrokerUrl } from '../transport/broker-url';
import { amqp091UrlOf, openTransport } from '../worker/connect';
import { transportTls } from '../worker/tls';
import type { WorkerTopology } from '../worker/topology';
import { intentStorePath, Worker } from '../worker/worker';
import { EventTail } from './event-tail';
import { replayJournal } from './demo-replay';
import { CheckFailed } from '../errors';

const say = (s: string) => process.stdout.write(`\n== ${s}\n`);

function check(ok: boolean, what: string): void {
  if (!ok) throw new CheckFailed(`demo: expected ${what}`);
  process.stdout.write(`   ok: ${what}\n`);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a worker and play Nova, Neutron, Cinder and an operator against it (exits 0 when the story ran as expected)')
    .option('--amqp-url <url>', 'broker URL (default AMQP_URL)')
    .action(async (flags: { amqpUrl?: string }) => {
      const host = `demo-${randomBytes(3).toString('hex')}`;
      const config = loadConfig({ flags: { host, ...(flags.amqpUrl ? { amqpUrl: flags.amqpUrl } : {}), logLevel: 'warn', instancesPath: join(tmpdir(), 'hostwall-demo'), statePath: join(tmpdir(), 'hostwall-demo'), vifPluggingTimeoutS: 60 } });
      const log = createLogger({ level: config.logLevel, format: config.logFormat });
      const driver = await openConfiguredDriver(config, log);
      const worker = new Worker({ config, log, transport: openTransport(config, { connectionName: `hostwall-demo-worker:${host}` }), driver });
      let transport: Transport | undefined;
      let tail: EventTail | undefined;
      // The journal is read from here on: a stream finds a time by chunk, so a little earlier is harmless.
      const started = new Date(Date.now() - 1000);
      try {
        say(`a worker for host ${host} on ${config.libvirtUri}`);
        await worker.start();
        transport = openTransport(config, { connectionName: `hostwall-demo-client:${host}` });
        await transport.start();
        tail = await EventTail.open(transport, host, (line) => process.stdout.write(`   event: ${line}\n`));
        const client = new IntentClient(transport, { controlExchange: config.controlExchange });
        const nova = { context: { issuer: 'nova', request_id: `req-${randomUUID()}` } };
        const neutron = { context: { issuer: 'neutron', request_id: `req-${randomUUID()}` } };
        const cinder = { context: { issuer: 'cinder', request_id: `req-${randomUUID()}` } };
        const operator = { context: { issuer: 'operator', request_id: `req-${randomUUID()}` } };
        const id = randomUUID();
        const portId = randomUUID();

        say('Nova spawns an instance with one port');
        const spawn = client.call(host, 'instance.spawn', {
          instance_uuid: id, name: 'demo-instance', flavor: { vcpus: 1, memory_mb: 256, root_gb: 1 }, image: { id: 'cirros' },
          ports: [{ port_id: portId, mac_address: 'fa:16:3e:00:de:30', vif_type: 'ovs', network: { bridge: 'br-int', mtu: 1450 } }],
        }, nova);
        const paused = await tail.waitFor((e) => e.event === 'intent.accepted' && e.kind === 'instance.spawn');
        check(paused !== undefined, 'the spawn was accepted');
        let state = await pollState(client, host, id, 'paused');
        check(state === 'paused', `the guest waits paused for its port (power_state ${state})`);

        say('Neutron says the port is wired (port.ready)');
        await client.call(host, 'port.ready', { port_id: portId }, neutron);
        const spawned = (await spawn) as { instance?: { power_state?: string } };
        check(spawned.instance?.power_state === 'running', 'the spawn finished and the guest runs');

        say('Cinder asks for the host connector and attaches a volume');
        const connector = (await client.call(host, 'host.connector', {}, cinder)) as Record<string, unknown>;
        check(typeof connector.host === 'string' && 'initiator' in connector, `connector ${JSON.stringify(connector)}`);
        const attached = (await client.call(host, 'volume.attach', {
          instance_uuid: id, volume_id: 'demo-volume-1', connection_info: { driver_volume_type: 'file', data: { device_path: join(config.instancesPath, 'demo-volume-1.img') } },
        }, cinder)) as { device?: string; live?: boolean };
        check(typeof attached.device === 'string', `volume attached as ${attached.device} (live: ${attached.live})`);

        say('An operator powers it off');
        const off = (await client.call(host, 'instance.power_off', { instance_uuid: id, timeout_s: 5 }, operator)) as { instance?: { power_state?: string } };
        check(off.instance?.power_state === 'shutdown', 'the guest is shut down');

        say('The operator replays the journal for that instance: nothing changes');
        const replayed = await replayJournal({ transport, config, host, instance: id, tail, since: started });
        check(replayed.sent > 0, `${replayed.sent} journaled intents re-sent`);
        check(replayed.appliedAgain === 0, 'none was applied again (each recorded outcome was re-published, marked replayed)');
        state = await pollState(client, host, id, 'shutdown');
        check(state === 'shutdown', 'the guest is still shut down');

        say('Nova destroys the instance');
        const destroyed = (await client.call(host, 'instance.destroy', { instance_uuid: id }, nova)) as { existed?: boolean };
        check(destroyed.existed === true, 'the instance is gone');
        say('the story ran as expected');
      } finally {
        await tail?.close();
        await transport?.close();
        await worker.stop(10_000);
        await removeDemoQueues(config, demoQueues(worker.topology, config));
        // Its intent store too: the host name is made up and never comes back.
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${intentStorePath(config)}${suffix}`, { force: true });
      }
    });
}

/**
 * The queues the demo's worker made for its made-up host: its server queue,
 * its dead-letter queue and its fanout queue (oslo keeps the first two for
 * good and the last for 30 min). The shared ones (the `compute` topic queue,
 * the notification queues, the journal stream, the exchanges) belong to
 * every worker on the broker and stay.
 */
export function demoQueues(topology: WorkerTopology, config: Pick<Config, 'topic' | 'host'>): string[] {
  const fanout = topology.consume.filter((q) => q.startsWith(`${config.topic}_fanout_`));
  return [`${config.topic}.${config.host}`, topology.deadLetterQueue, ...fanout];
}

async function removeDemoQueues(config: Config, queues: string[]): Promise<void> {
  const url = amqp091UrlOf(config);
  // The worker's TLS material too, as the AMQP 1.0 transport's own 0-9-1 connection has it (topology-admin.ts).
  const tls = parseBrokerUrl(url).tls ? transportTls(config) : {};
  const admin = createAmqp091Transport({ url, connectionName: `hostwall-demo-cleanup:${config.host}`, failFast: true, ...tls });
  try {
    await admin.start();
    for (const q of queues) await admin.deleteQueue(q);
    process.stdout.write(`\n== deleted the demo's queues: ${queues.join(', ')}\n`);
  } catch (err) {
    process.stderr.write(`hostwall: demo: could not delete its queues ${queues.join(', ')}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await admin.close();
  }
}

async function pollState(client: IntentClient, host: string, id: string, want: string): Promise<string | undefined> {
  let last: string | undefined;
  for (let i = 0; i < 100; i++) {
    const s = (await client.call(host, 'instance.get_state', { instance_uuid: id }).catch(() => undefined)) as { power_state?: string } | undefined;
    last = s?.power_state;
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}
