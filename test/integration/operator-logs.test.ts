/**
 * The worker's log as an operator reads it (oslo.log's habits): a real worker
 * process writing to --log-file; every intent line naming the intent's
 * request, issuer, instance and host; lines while an intent waits; SIGHUP
 * reopening the file after logrotate moved it and reading the log level again,
 * the worker running on.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntentClient } from '../../src/client/intent-client';
import { loadConfig } from '../../src/config';
import type { Transport } from '../../src/transport/transport';
import { openTransport } from '../../src/worker/connect';
import { eventually } from '../support/eventually';
import { BIN } from '../support/worker-process';
import { AMQP_URL, uniqueHost, uuid } from '../support/worker';

type Line = Record<string, unknown>;

function lines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
}

/** Wait until the file has a line that matches (the worker writes on its own schedule). */
async function lineIn(file: string, match: (l: Line) => boolean, timeoutMs = 30_000): Promise<Line> {
  return eventually(`a line in ${file}`, () => lines(file).find(match), undefined, { timeoutMs, intervalMs: 100 }).catch((err: unknown) => {
    throw new Error(`${String(err)}; the file ends:\n${existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '(no file)'}`);
  });
}

describe('worker log: intent lines, wait lines, --log-file and SIGHUP', function () {
  this.timeout(90_000);
  const host = uniqueHost('logs');
  const dir = mkdtempSync(join(tmpdir(), 'hw-logs-'));
  const file = join(dir, 'hostwall.log');
  const conf = join(dir, 'hostwall.conf');
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = Promise.resolve(null);
  let transport: Transport | undefined;
  let client: IntentClient;

  before(async () => {
    writeFileSync(conf, `[hostwall]\nlog_level = Info\nstate_path = ${dir}\ninstances_path = ${join(dir, 'instances')}\nwait_log_interval = 1\nvif_plugging_timeout = 60\n`);
    child = spawn(process.execPath, [BIN, 'worker', '--host', host, '--config-file', conf, '--log-file', file, '--log-format', 'json'], {
      env: { ...process.env, AMQP_URL }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    exited = new Promise((resolve) => child?.once('exit', (code) => resolve(code)));
    await lineIn(file, (l) => l.message === 'worker running');
    transport = openTransport(loadConfig({ env: {}, flags: { amqpUrl: AMQP_URL } }), { connectionName: 'hw-logs-test' });
    await transport.start();
    client = new IntentClient(transport, { controlExchange: 'nova' });
  });

  after(async () => {
    await transport?.close();
    if (child && child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });

  it('names the request, global request, issuer, instance and host on every line of an intent', async () => {
    const id = uuid();
    const context = { issuer: 'operator', request_id: `req-${uuid()}`, global_request_id: `req-${uuid()}` };
    await client.call(host, 'instance.power_on', { instance_uuid: id }, { context }).catch(() => undefined);
    const failed = await lineIn(file, (l) => l.request_id === context.request_id && String(l.message).startsWith('failed:'));
    expect(failed).to.include({ host, instance_uuid: id, issuer: 'operator', global_request_id: context.global_request_id, kind: 'instance.power_on', level: 'warn' });
  });

  it('says when a spawn starts waiting for its ports, every interval while it waits, and what waits behind it', async () => {
    const id = uuid();
    const port = uuid();
    const spawn = client.call(host, 'instance.spawn', {
      instance_uuid: id, name: `i-${id.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 128, root_gb: 1 },
      ports: [{ port_id: port, mac_address: 'fa:16:3e:00:00:42', vif_type: 'bridge', network: { bridge: 'br0' } }],
    }, { context: { issuer: 'nova' } });
    const off = client.call(host, 'instance.power_off', { instance_uuid: id, timeout_s: 1 }, { context: { issuer: 'operator' } });
    const first = await lineIn(file, (l) => l.instance_uuid === id && l.message === 'waiting for port.ready of its ports');
    expect(first).to.deep.include({ ports: [port], level: 'info', host });
    const again = await lineIn(file, (l) => l.instance_uuid === id && l.message === 'still waiting for port.ready of its ports');
    expect(again.waited_s).to.be.a('number');
    const behind = await lineIn(file, (l) => l.instance_uuid === id && l.message === 'still waiting for its turn');
    expect(behind).to.deep.include({ kind: 'instance.power_off', behind: [first.intent_id], lanes: [`instance:${id}`] });
    // At info, the lane wait's first line (debug) is not written; its repeats are.
    expect(lines(file).filter((l) => l.message === 'waiting for its turn')).to.deep.equal([]);
    await client.call(host, 'port.ready', { port_id: port }, { context: { issuer: 'neutron' } });
    await spawn;
    await off;
  });

  it('on SIGHUP reopens the log file logrotate moved away and reads the log level again, and keeps running', async () => {
    renameSync(file, `${file}.1`);
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('log_level = Info', 'log_level = DEBUG').replace('wait_log_interval = 1', 'wait_log_interval = 2'));
    child?.kill('SIGHUP');
    const reloaded = await lineIn(file, (l) => l.message === 'SIGHUP: log file reopened, configuration read again');
    expect(reloaded).to.deep.include({ reloaded: ['log-level'], log_level: 'debug' });
    const later = await lineIn(file, (l) => l.message === 'SIGHUP: these settings changed and take effect at the next start');
    expect(later.settings).to.deep.equal(['wait-log-interval']);
    expect(child?.exitCode).to.equal(null);
    // At debug now: an intent queued behind a spawn waiting for its port says so at once.
    const id = uuid();
    const port = uuid();
    const spawn = client.call(host, 'instance.spawn', {
      instance_uuid: id, name: `i-${id.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 128, root_gb: 1 },
      ports: [{ port_id: port, mac_address: 'fa:16:3e:00:00:43', vif_type: 'bridge', network: { bridge: 'br0' } }],
    }, { context: { issuer: 'nova' } });
    await lineIn(file, (l) => l.instance_uuid === id && l.message === 'waiting for port.ready of its ports');
    const off = client.call(host, 'instance.power_off', { instance_uuid: id, timeout_s: 1 }, { context: { issuer: 'operator' } });
    const waiting = await lineIn(file, (l) => l.instance_uuid === id && l.message === 'waiting for its turn');
    expect(waiting).to.deep.include({ level: 'debug', kind: 'instance.power_off' });
    await client.call(host, 'port.ready', { port_id: port }, { context: { issuer: 'neutron' } });
    await spawn;
    await off;
    expect(readFileSync(`${file}.1`, 'utf8')).to.contain('"worker running"');
  });

  it('a configuration that no longer parses changes nothing on SIGHUP', async () => {
    writeFileSync(conf, '[hostwall]\nlog_level = loud\n');
    child?.kill('SIGHUP');
    const refused = await lineIn(file, (l) => l.message === 'SIGHUP: configuration not reloaded; nothing changed');
    expect(String(refused.error)).to.match(/log_level.*loud/);
    expect(child?.exitCode).to.equal(null);
    child?.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });
});
