/**
 * The daemons a fault test needs, started by hand (no systemd here) and
 * idempotently:
 * - libvirtd hosting the test driver (`test+unix:///default`): its state
 *   lives as long as one connection stays open, so the test holds one (the
 *   "anchor") and the guests outlive every worker process it kills.
 * - a private RabbitMQ node (own name, port, data directory), so a test can
 *   restart "the broker" without touching the shared one other tests use.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const LIBVIRT_TEST_URI = 'test+unix:///default';

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function answers(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args, { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** libvirtd answering on its socket with the test driver; started if it is not. */
export async function ensureLibvirtd(): Promise<void> {
  if (await answers('virsh', ['-c', LIBVIRT_TEST_URI, 'version'])) return;
  await run('libvirtd', ['-d', '-p', '/run/hostwall-libvirtd.pid'], { timeout: 10_000 });
  for (let i = 0; i < 50; i++) {
    if (await answers('virsh', ['-c', LIBVIRT_TEST_URI, 'version'])) return;
    await sleep(200);
  }
  throw new Error('libvirtd did not come up (install libvirt-daemon-system and libvirt-clients; see scripts/setup.sh)');
}

/** A guest's persistent definition, through the daemon. */
export async function inactiveXml(uuid: string): Promise<string> {
  const { stdout } = await run('virsh', ['-c', LIBVIRT_TEST_URI, 'dumpxml', '--inactive', uuid], { timeout: 10_000, maxBuffer: 10_000_000 });
  return stdout;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface TlsMaterial {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function tlsPaths(dir: string): TlsMaterial {
  const f = (n: string) => `${dir}/${n}`;
  return { dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

export async function makeTlsMaterial(dir: string): Promise<TlsMaterial> {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => `${dir}/${n}`;
  const ssl = (...args: string[]) => run('openssl', args, { timeout: 30_000 });
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=hostwall-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who === 'server' ? 'localhost' : 'guest'}`, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    await ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f(`${who}.pem`), ...(who === 'server' ? ['-extfile', f('server.ext')] : []));
  }
  return tlsPaths(dir);
}

/** A RabbitMQ node of our own on 127.0.0.1:<port> (and TLS on <tlsPort>, client certificates required), data under /tmp. */
export class PrivateBroker {
  readonly url: string;
  readonly tlsUrl: string;
  private readonly dir: string;
  readonly node: string;
  readonly tls: TlsMaterial;

  constructor(readonly name: string, readonly port: number, readonly tlsPort = port + 1) {
    this.node = `${name}@localhost`;
    this.dir = `/tmp/${name}`;
    this.url = `amqp://guest:guest@127.0.0.1:${port}`;
    this.tlsUrl = `amqps://guest:guest@localhost:${tlsPort}`;
    this.tls = tlsPaths(`${this.dir}/tls`);
  }

  private ctl(...args: string[]): Promise<{ stdout: string }> {
    return run('rabbitmqctl', ['-q', '-n', this.node, ...args], { timeout: 60_000 });
  }

  async start(): Promise<void> {
    if (await answers('rabbitmqctl', ['-q', '-n', this.node, 'ping'])) {
      await this.ctl('await_startup');
      return this.waitUp();
    }
    if (await portOpen(this.port)) throw new Error(`port ${this.port} is taken by something other than ${this.node}`);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(`${this.dir}/mnesia`, { recursive: true });
    mkdirSync(`${this.dir}/log`, { recursive: true });
    await makeTlsMaterial(this.tls.dir);
    writeFileSync(`${this.dir}/rabbitmq.conf`, [
      `listeners.tcp.local = 127.0.0.1:${this.port}`,
      `listeners.ssl.local = 127.0.0.1:${this.tlsPort}`,
      `ssl_options.cacertfile = ${this.tls.ca}`,
      `ssl_options.certfile = ${this.tls.serverCert}`,
      `ssl_options.keyfile = ${this.tls.serverKey}`,
      'ssl_options.verify = verify_peer',
      'ssl_options.fail_if_no_peer_cert = true',
      '',
    ].join('\n'));
    writeFileSync(`${this.dir}/enabled_plugins`, '[].\n');
    await run('chown', ['-R', 'rabbitmq:rabbitmq', this.dir]);
    const env = {
      ...process.env,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_CONFIG_FILE: `${this.dir}/rabbitmq.conf`,
      RABBITMQ_DIST_PORT: String(this.port + 20000),
      RABBITMQ_MNESIA_BASE: `${this.dir}/mnesia`,
      RABBITMQ_LOG_BASE: `${this.dir}/log`,
      RABBITMQ_PID_FILE: `${this.dir}/pid`,
      RABBITMQ_ENABLED_PLUGINS_FILE: `${this.dir}/enabled_plugins`,
    };
    await run('rabbitmq-server', ['-detached'], { env, timeout: 60_000 });
    for (let i = 0; i < 120 && !(await answers('rabbitmqctl', ['-q', '-n', this.node, 'ping'])); i++) await sleep(500);
    await this.ctl('await_startup');
    await this.waitUp();
  }

  private async waitUp(): Promise<void> {
    for (let i = 0; i < 120; i++) {
      if (await portOpen(this.port)) return;
      await sleep(250);
    }
    throw new Error(`private broker ${this.node} does not listen on ${this.port}`);
  }

  /** stop_app then start_app: every connection is closed; durable and quorum queues keep their messages. */
  async restart(downMs = 1000): Promise<void> {
    await this.ctl('stop_app');
    await sleep(downMs);
    await this.ctl('start_app');
    await this.waitUp();
  }

  async stop(): Promise<void> {
    await this.ctl('stop').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
