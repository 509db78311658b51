/**
 * A compute node's nova-compute.conf as hostwall's settings: Nova's keys
 * mapped, [hostwall] above them, flags and environment above both, unknown
 * keys listed (or refused in [hostwall]), the notification driver honoured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ComputeHostSettings } from '../../src/adapters/nova/compute-host/settings';
import { readNovaConf } from '../../src/adapters/nova/nova-conf';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { loadIniFiles } from '../../src/oslo/config-files';

const COMPUTE_CONF = `[DEFAULT]
host = compute-7
my_ip = 10.1.2.3
transport_url = rabbit://nova:secret@10.0.0.1:5672/nova
state_path = /srv/nova
instances_path = $state_path/instances
report_interval = 5
reserved_host_memory_mb = 1024
cpu_allocation_ratio = 4.0
compute_driver = libvirt.LibvirtDriver

[oslo_messaging_notifications]
driver = messagingv2

[notifications]
notification_format = both

[placement]
auth_type = password
auth_url = http://keystone:5000/v3
username = nova
password = pw
user_domain_name = Default
project_name = service
project_domain_name = Default

[database]
connection = mysql://nope

[libvirt]
virt_type = kvm
`;

describe('nova-compute.conf as hostwall settings', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hw-novaconf-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("maps Nova's keys onto the worker's settings and the compute host's, and lists the keys it does not use", () => {
    const nova = readNovaConf(loadIniFiles([file('nova-compute.conf', COMPUTE_CONF)]));
    const config = loadConfig({ env: {}, layers: nova.layers });
    expect(config).to.include({ host: 'compute-7', statePath: '/srv/nova', instancesPath: '/srv/nova/instances', notificationFormat: 'both', novaNotifications: true, libvirtVirtType: 'kvm' });
    expect(nova.isNovaConfig).to.equal(true);
    const host = ComputeHostSettings.parse({ myIp: '127.0.0.1', ...nova.computeHost, host: config.host, nodename: config.host });
    expect(host).to.include({ myIp: '10.1.2.3', reportIntervalMs: 5000, reservedHostMemoryMb: 1024, cpuAllocationRatio: 4, ramAllocationRatio: null });
    expect(nova.placement).to.include({ auth_type: 'password', username: 'nova' });
    expect(nova.ignored).to.have.members(['DEFAULT.compute_driver', 'database.connection']);
  });

  it('puts flags, then the environment, then [hostwall], then Nova\'s keys', () => {
    const nova = readNovaConf(loadIniFiles([
      file('a.conf', COMPUTE_CONF),
      file('b.conf', '[hostwall]\nstate_path = /var/lib/hostwall-7\nissuer_mode = verified\nvif_plugging_timeout = 30\n'),
    ]));
    expect(loadConfig({ env: {}, layers: nova.layers })).to.include({ statePath: '/var/lib/hostwall-7', issuerMode: 'verified', vifPluggingTimeoutMs: 30_000 });
    expect(loadConfig({ env: { HOSTWALL_STATE_PATH: '/env' }, layers: nova.layers }).statePath).to.equal('/env');
    expect(loadConfig({ env: { HOSTWALL_STATE_PATH: '/env' }, flags: { statePath: '/flag' }, layers: nova.layers }).statePath).to.equal('/flag');
  });

  it('refuses an unknown [hostwall] key and a bad value, naming the key and the file', () => {
    const typo = file('typo.conf', '[hostwall]\nissuer_mdoe = verified\n');
    expect(() => readNovaConf(loadIniFiles([typo]))).to.throw(ConfigError, /unknown setting issuer_mdoe in \[hostwall\] of .*typo\.conf/);
    const bad = readNovaConf(loadIniFiles([file('bad.conf', '[hostwall]\nconcurrency = lots\n')]));
    expect(() => loadConfig({ env: {}, layers: bad.layers })).to.throw(ConfigError, /concurrency \(\[hostwall\] in .*bad\.conf\)/);
    const num = file('num.conf', '[DEFAULT]\ntransport_url = rabbit://h\nreport_interval = often\n');
    expect(() => readNovaConf(loadIniFiles([num]))).to.throw(ConfigError, /report_interval in \[DEFAULT\] of .*num\.conf: not a number/);
    // A virt_type Nova knows but hostwall cannot run (lxc) is refused, not taken for kvm.
    const lxc = readNovaConf(loadIniFiles([file('lxc.conf', COMPUTE_CONF.replace('virt_type = kvm', 'virt_type = lxc'))]));
    expect(() => loadConfig({ env: {}, layers: lxc.layers })).to.throw(ConfigError, /invalid setting virt_type in \[libvirt\] \(.*lxc\.conf\): .*"auto"\|"kvm"\|"qemu"/);
  });

  it('sends no Nova notifications when oslo has no notification driver (its default) or noop', () => {
    for (const driver of ['', 'noop']) {
      const text = COMPUTE_CONF.replace('driver = messagingv2', driver ? `driver = ${driver}` : '');
      const nova = readNovaConf(loadIniFiles([file(`n${driver}.conf`, text)]));
      expect(loadConfig({ env: {}, layers: nova.layers }).novaNotifications).to.equal(false);
    }
  });

  it("takes oslo's amqp:// as its AMQP 1.0 driver, and the rabbit queue options", () => {
    const amqp1 = readNovaConf(loadIniFiles([file('a1.conf', COMPUTE_CONF.replace('rabbit://', 'amqp://'))]));
    expect(loadConfig({ env: {}, layers: amqp1.layers }).amqpUrl).to.equal('amqp10://nova:secret@10.0.0.1:5672/nova');
    const nova = readNovaConf(loadIniFiles([file('q.conf', `${COMPUTE_CONF}\n[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\nssl = true\n`)]));
    expect(loadConfig({ env: {}, layers: nova.layers })).to.include({ queues: 'quorum', amqpUrl: 'rabbit://nova:secret@10.0.0.1:5672/nova?ssl=true' });
  });

  it('is not a Nova compute host config without a transport_url or a [placement] section', () => {
    const nova = readNovaConf(loadIniFiles([file('h.conf', '[hostwall]\nhost = h1\n')]));
    expect(nova.isNovaConfig).to.equal(false);
    expect(loadConfig({ env: {}, layers: nova.layers }).host).to.equal('h1');
  });
});
