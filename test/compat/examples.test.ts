/**
 * The README's Neutron-style and Cinder-style senders (examples/*.py, real
 * oslo.messaging) work against a worker, with no Nova involved.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IntentClient } from '../../src/client/intent-client';
import type { Transport } from '../../src/transport/transport';
import type { Worker } from '../../src/worker/worker';
import { DEBIAN_PYTHON } from '../support/python';
import { AMQP_URL, connectTransport, startWorker, uuid } from '../support/worker';

const run = promisify(execFile);
const EXAMPLES = join(__dirname, '..', '..', '..', 'examples');

describe('README examples: Neutron and Cinder senders without Nova', function () {
  this.timeout(90_000);
  let worker: Worker;
  let host: string;
  let transport: Transport;
  let client: IntentClient;

  before(async () => {
    ({ worker, config: { host } } = await startWorker({ vifPluggingTimeoutMs: 60_000 }));
    transport = await connectTransport('test-examples');
    client = new IntentClient(transport, { controlExchange: 'nova' });
  });

  after(async () => {
    await transport?.close();
    await worker?.stop(5_000);
  });

  it('Neutron says a port is ready and the waiting spawn resumes', async () => {
    const id = uuid();
    const portId = uuid();
    const spawn = client.call(host, 'instance.spawn', {
      instance_uuid: id, name: `ex-${id.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 },
      ports: [{ port_id: portId, mac_address: 'fa:16:3e:aa:bb:cc', vif_type: 'ovs', network: { bridge: 'br-int' } }],
    }, { context: { issuer: 'nova' } });
    const out = await run(DEBIAN_PYTHON, [join(EXAMPLES, 'neutron_port_ready.py'), host, portId], { env: { ...process.env, AMQP_URL } });
    expect(out.stdout).to.contain('port.ready');
    expect(await spawn).to.deep.nested.include({ 'instance.power_state': 'running' });
    await client.call(host, 'instance.destroy', { instance_uuid: id });
  });

  it('Cinder asks for the host connector and attaches a volume', async () => {
    const id = uuid();
    await client.call(host, 'instance.spawn', { instance_uuid: id, name: `exc-${id.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } });
    const out = await run(DEBIAN_PYTHON, [join(EXAMPLES, 'cinder_attach.py'), host, id, 'vol-example-1', '/var/lib/hostwall/volumes/vol-example-1.img'], { env: { ...process.env, AMQP_URL } });
    expect(out.stdout).to.match(/^connector .*"os_type"/m);
    expect(out.stdout).to.match(/^attached .*"device": "vd[a-z]".*"live": false/m);
    await client.call(host, 'instance.destroy', { instance_uuid: id });
  });
});
