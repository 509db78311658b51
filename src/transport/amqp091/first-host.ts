/**
 * One plain amqplib connection to the first host of a broker URL that lets
 * us in, for short-lived readers that need amqplib itself (stream offsets,
 * basic.get on dead letters) rather than a Transport. Each host is tried
 * once, in order; no reconnect. Fails with every host's reason.
 */
import * as amqp from 'amqplib';
import { TransportError } from '../../errors';
import { describeConnectError } from '../connect-errors';
import { HostFailures } from '../failover';
import { compileOptions } from './options';
import { withTimeout } from '../timing';

export async function connectFirstHost(url: string, socket: amqp.Options.Connect | Record<string, unknown> = {}, timeoutMs = 10_000): Promise<amqp.ChannelModel> {
  const o = compileOptions({ url, connectTimeoutMs: timeoutMs });
  const failures = new HostFailures();
  for (const host of o.hosts) {
    try {
      return await withTimeout(amqp.connect(host.connect, { ...o.socket, ...socket }), timeoutMs + 1000, 'AMQP connect', (late) => void late.close().catch(() => undefined));
    } catch (err) {
      failures.note(host.address, describeConnectError(err, o.broker.vhost));
    }
  }
  throw new TransportError(`cannot connect to ${failures.explain(o.safeUrl, o.hosts.map((h) => h.address), 'no answer')}`, { url: o.safeUrl });
}
