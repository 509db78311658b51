/**
 * Golden-fixture replay (in the spirit of Temporal's history replay): every
 * message real Nova 26.2.2 sent (test/fixtures/nova, captured by
 * test/compat/nova-capture.test.ts) goes through the oslo request parser and
 * adaptNovaRequest, and must give the intents below. Every fixture needs an
 * expectation, so a new capture cannot slip through unasserted.
 */
import { expect } from 'chai';
import { type NovaAdapted, type NovaLookups, adaptNovaRequest } from '../../src/adapters/nova';
import { HostwallError, RejectedError } from '../../src/errors';
import { type Intent, lockKeysOf, REGISTRY } from '../../src/intents';
import { parseRpcRequest } from '../../src/oslo/rpc-request';
import { loadNovaFixtures, type NovaFixture } from '../compat/nova-capture-fixtures';
import { thrownBy } from '../support/failure';

// The fixed ids of test/compat/py/nova_objects_fixture.py.
const INSTANCE = 'a3b8e0f2-5c1d-4e6f-9a7b-2c3d4e5f6a7b';
const IMAGE = '0d9c6b5a-4e3f-4a2b-8c1d-9e8f7a6b5c4d';
const PORT = '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b';
const PORT2 = '6f1d2b3c-4d5e-4f60-9b7c-8d9e0f1a2b3c';
const NEW_PORT = '7a2e3c4d-5e6f-4071-8c8d-9e0f1a2b3c4d';
const VOLUME = '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const UNIQUE = '0123456789abcdef0123456789abcdef';
const ATTACHMENT = '2d3e4f50-6172-4839-8a4b-5c6d7e8f9a0b';

const port = (port_id: string, mac: string) => ({ port_id, mac_address: mac, vif_type: 'ovs' as const, network: { bridge: 'br-int', mtu: 1442 }, vnic_type: 'normal' as const });
const RBD = { driver_volume_type: 'rbd', data: { name: `volumes/volume-${VOLUME}`, hosts: ['192.0.2.7'], ports: ['6789'] } };

/** What the worker would know from Neutron's port.plug and Cinder's connection info. */
const FACTS: NovaLookups = {
  port: (id) => ({ [PORT]: { port: port(PORT, 'fa:16:3e:4c:2d:10'), active: false }, [PORT2]: { port: port(PORT2, 'fa:16:3e:4c:2d:11') }, [NEW_PORT]: { port: port(NEW_PORT, 'fa:16:3e:4c:2d:12'), network_id: 'net-1' } })[id],
  connectionInfo: (ref) => (ref.volume_id === VOLUME ? RBD : undefined),
};

function replay(f: NovaFixture, facts: NovaLookups = FACTS): NovaAdapted {
  const req = parseRpcRequest({ ...f.message, _unique_id: UNIQUE });
  return adaptNovaRequest({ method: req.method, version: req.version, args: req.args, context: req.context, uniqueId: req.uniqueId }, facts);
}

const refusal = (fn: () => unknown): RejectedError => thrownBy(RejectedError, fn);

function only(a: NovaAdapted): Intent {
  expect(a.intents, JSON.stringify(a.intents)).to.have.length(1);
  const [first] = a.intents;
  if (!first) throw new Error('no intent');
  return first;
}

/** Every intent the adapter emits is a registered kind (no kind outside the registry reaches the dispatcher). */
function native(i: Intent): Intent {
  expect(REGISTRY.has(i.kind), i.kind).to.equal(true);
  return i;
}

const instanceIntent = (kind: string) => (a: NovaAdapted) => {
  const i = native(only(a));
  expect(i).to.deep.equal({ kind, args: { instance_uuid: INSTANCE } });
  expect(lockKeysOf(i)).to.deep.equal([`instance:${INSTANCE}`]);
};

type Expectation = (a: NovaAdapted, f: NovaFixture) => void;

/** What the worker answers a volume.reserve_device call with. */
const reserved = (device_name: string) => ({ intent_id: 'i', kind: 'volume.reserve_device', outcome: 'succeeded', instance_uuid: INSTANCE, volume_id: VOLUME, device_name });
const refused = (code: string, pattern: RegExp) => ({ refused: { code, pattern } });

/** Keyed by `<method>[.<variant>]`; applies to every pin (the 5.x forms carry the same arguments). */
const EXPECTED: Record<string, Expectation | ReturnType<typeof refused>> = {
  build_and_run_instance: (a) => {
    const i = native(only(a));
    expect(i.kind).to.equal('instance.spawn');
    expect(i.args).to.deep.equal({
      instance_uuid: INSTANCE, name: 'instance-0000002a', flavor: { vcpus: 2, memory_mb: 2048, root_gb: 20 },
      image: { id: IMAGE }, ports: [port(PORT, 'fa:16:3e:4c:2d:10')], metadata: { role: 'web' }, wait_for_ports: true,
    });
    expect(lockKeysOf(i)).to.deep.equal([`instance:${INSTANCE}`]);
    expect(a.ignored.join('\n')).to.match(/admin_password/).and.match(/flavor\.extra_specs \(hw:cpu_policy, hw_rng:allowed\)/);
    expect(a.ignored.join('\n'), 'never a secret value').not.to.include('s3cret');
    expect(a.reply).to.equal(undefined);
  },
  'build_and_run_instance.volume': (a) => {
    const i = native(only(a));
    expect(i.args).to.deep.include({ volumes: [{ volume_id: VOLUME, connection_info: RBD }] });
    expect(i.args).not.to.have.property('image');
  },
  terminate_instance: (a) => {
    expect(native(only(a))).to.deep.equal({ kind: 'instance.destroy', args: { instance_uuid: INSTANCE } });
    expect(a.ignored).to.have.length(1);
  },
  stop_instance: (a) => expect(only(a)).to.deep.equal({ kind: 'instance.power_off', args: { instance_uuid: INSTANCE, clean: true, timeout_s: 30 } }),
  'stop_instance.call': (a) => {
    // clean_shutdown=False: Nova powers off at once; the call returns None.
    expect(only(a)).to.deep.equal({ kind: 'instance.power_off', args: { instance_uuid: INSTANCE, clean: false, timeout_s: 60 } });
    expect(a.reply).to.equal(undefined);
  },
  start_instance: instanceIntent('instance.power_on'),
  pause_instance: instanceIntent('instance.pause'),
  unpause_instance: instanceIntent('instance.unpause'),
  suspend_instance: instanceIntent('instance.suspend'),
  resume_instance: instanceIntent('instance.resume'),
  reboot_instance: (a) => expect(only(a)).to.deep.equal({ kind: 'instance.reboot', args: { instance_uuid: INSTANCE, type: 'soft' } }),
  'reboot_instance.hard': (a) => expect(only(a)).to.deep.equal({ kind: 'instance.reboot', args: { instance_uuid: INSTANCE, type: 'hard' } }),
  attach_volume: (a) => {
    const i = native(only(a));
    // volume.attach 1.1 carries the Cinder attachment id (Zed's BDM sets no disk_bus, device_type or tag here).
    expect(i).to.deep.equal({ kind: 'volume.attach', args: { instance_uuid: INSTANCE, volume_id: VOLUME, connection_info: RBD, device_name: '/dev/vdb', attachment_id: ATTACHMENT } });
    expect(lockKeysOf(i)).to.deep.equal([`instance:${INSTANCE}`, `volume:${VOLUME}`]);
    expect(a.ignored).to.deep.equal([]);
  },
  'attach_volume.connection_info': (a) => {
    const i = native(only(a));
    // The BDM's own connection_info wins over the facts; Nova's extra keys (serial, status, ...) are dropped.
    expect(i.kind === 'volume.attach' && i.args.connection_info.driver_volume_type).to.equal('iscsi');
    expect(i.kind === 'volume.attach' && Object.keys(i.args.connection_info)).to.deep.equal(['driver_volume_type', 'data']);
  },
  detach_volume: (a) => {
    expect(only(a)).to.deep.equal({ kind: 'volume.detach', args: { instance_uuid: INSTANCE, volume_id: VOLUME, attachment_id: ATTACHMENT } });
    expect(a.ignored).to.deep.equal([]);
  },
  reserve_block_device_name: (a) => {
    expect(only(a)).to.deep.equal({ kind: 'volume.reserve_device', args: { instance_uuid: INSTANCE, volume_id: VOLUME, multiattach: false } });
    const bdm = a.reply?.([reserved('/dev/vdc')]) as Record<string, Record<string, unknown>>;
    expect(bdm['nova_object.data']).to.deep.include({ device_name: '/dev/vdc', volume_id: VOLUME, instance_uuid: INSTANCE, source_type: 'volume' });
  },
  'reserve_block_device_name.device': (a) =>
    expect(only(a).args).to.deep.equal({ instance_uuid: INSTANCE, volume_id: VOLUME, device_name: '/dev/vdc', disk_bus: 'virtio', device_type: 'disk', tag: 'data', multiattach: false }),
  attach_interface: (a) => {
    const i = native(only(a));
    expect(i).to.deep.equal({ kind: 'port.plug', args: { instance_uuid: INSTANCE, port: port(NEW_PORT, 'fa:16:3e:4c:2d:12') } });
    expect(lockKeysOf(i)).to.deep.equal([`instance:${INSTANCE}`, `port:${NEW_PORT}`]);
    const vif = a.reply?.([{ intent_id: 'i', kind: 'port.plug', outcome: 'succeeded', live: false, device: 'tap7a2e3c4d-5e' }]);
    expect(vif).to.deep.include({ id: NEW_PORT, address: 'fa:16:3e:4c:2d:12', type: 'ovs', devname: 'tap7a2e3c4d-5e', ovs_interfaceid: NEW_PORT });
    expect((vif as { network: unknown }).network).to.deep.include({ id: 'net-1', bridge: 'br-int' });
  },
  'attach_interface.network': refused('INVALID_INTENT', /network 1b2c3d4e-.* without a port: nova-compute would create the port in Neutron/),
  detach_interface: (a) => expect(only(a)).to.deep.equal({ kind: 'port.unplug', args: { instance_uuid: INSTANCE, port_id: PORT } }),
  external_instance_event: (a) => {
    const i = native(only(a));
    expect(i).to.deep.equal({ kind: 'port.ready', args: { port_id: PORT, status: 'completed' } });
    expect(lockKeysOf(i)).to.deep.equal([`port:${PORT}`]);
  },
  'external_instance_event.failed': (a) => expect(only(a)).to.deep.equal({ kind: 'port.ready', args: { port_id: PORT, status: 'failed' } }),
  'external_instance_event.batch': (a) => {
    // Two intents from one message: each its own id, so deduplication keeps both.
    expect(a.intents).to.deep.equal([
      { kind: 'port.ready', args: { intent_id: `${UNIQUE}:0`, port_id: PORT, status: 'completed' } },
      { kind: 'port.ready', args: { intent_id: `${UNIQUE}:1`, port_id: PORT2, status: 'completed' } },
    ]);
    expect(a.ignored).to.have.length(1).and.to.match(/network-changed/);
  },
  'external_instance_event.unplugged': (a) => {
    expect(a.intents).to.deep.equal([]);
    expect(a.ignored).to.have.length(1).and.to.match(/network-vif-unplugged/);
  },
  'external_instance_event.deleted': (a) => expect(only(a)).to.deep.equal({ kind: 'port.unplug', args: { instance_uuid: INSTANCE, port_id: PORT } }),
  'external_instance_event.volume_extended': (a) => {
    const i = native(only(a));
    expect(i).to.deep.equal({ kind: 'volume.extend', args: { instance_uuid: INSTANCE, volume_id: VOLUME } });
    expect(lockKeysOf(i)).to.deep.equal([`instance:${INSTANCE}`, `volume:${VOLUME}`]);
  },
  'external_instance_event.power_update': refused('UNKNOWN_KIND', /^Nova external instance event power-update is not supported by hostwall yet$/),
  get_console_output: (a) => {
    const i = native(only(a));
    expect(i).to.deep.equal({ kind: 'instance.console_output', args: { instance_uuid: INSTANCE, tail_length: 50 } });
    expect(lockKeysOf(i), 'a read takes no lock').to.deep.equal([]);
    expect(a.reply?.([{ output: 'login: ' }])).to.equal('login: ');
  },
  get_host_uptime: (a) => {
    expect(native(only(a))).to.deep.equal({ kind: 'host.uptime', args: {} });
    expect(a.reply?.([{ uptime: ' 12:00:01 up 3 days' }])).to.equal(' 12:00:01 up 3 days');
  },
  rescue_instance: refused('UNKNOWN_KIND', /^Nova compute RPC method rescue_instance is not supported by hostwall yet$/),
};

describe('Nova adapter: golden fixture replay', () => {
  const fixtures = loadNovaFixtures();

  it('has fixtures for Zed (6.0) and for clients pinned to 5.x', () => {
    const versions = new Set([...fixtures.values()].map((f) => f.message.version));
    expect([...versions].sort()).to.deep.equal(['5.0', '5.11', '6.0']);
    expect(fixtures.size).to.be.greaterThan(60);
  });

  for (const [file, f] of fixtures) {
    const name = f.method + (f.variant ? `.${f.variant}` : '');
    it(`${file} (${f.message.version}) → ${describeExpectation(EXPECTED[name])}`, () => {
      const want = EXPECTED[name];
      if (!want) throw new Error(`no expectation for fixture ${name}: add one to EXPECTED`);
      if (typeof want === 'function') return want(replay(f), f);
      const err = refusal(() => replay(f));
      expect(err.code).to.equal(want.refused.code);
      expect(err.message).to.match(want.refused.pattern);
    });
  }

  it('refuses, naming the missing fact, what Nova would get from Neutron or Cinder', () => {
    const get = (k: string) => fixtures.get(k) ?? expect.fail(`missing fixture ${k}`);
    expect(refusal(() => replay(get('build_and_run_instance.json'), {})).message).to.match(/port 5e0c1a2b-.* is not known to hostwall: .* hostwall does not call Neutron/);
    expect(refusal(() => replay(get('build_and_run_instance.volume.json'), { port: FACTS.port })).message).to.match(/volume 9c8b7a6d-.* has no connection_info: .*attachment_update/);
    const attach = refusal(() => replay(get('attach_volume.json'), {}));
    expect(attach.code).to.equal('INVALID_INTENT');
    expect(attach.message).to.match(/^Nova attach_volume: volume .* \(attachment 2d3e4f50-6172-4839-8a4b-5c6d7e8f9a0b\) has no connection_info/);
    expect(refusal(() => replay(get('attach_interface.json'), {})).message).to.match(/port 7a2e3c4d-.* is not known/);
  });

  it('a reply built from a result of the wrong shape is the worker\'s bug, not Nova\'s', () => {
    const f = fixtures.get('get_host_uptime.json') ?? expect.fail('missing fixture');
    const a = replay(f);
    expect(() => a.reply?.([{ nope: 1 }])).to.throw(HostwallError, /intent result 0 is not the expected shape/);
  });
});

function describeExpectation(e: Expectation | ReturnType<typeof refused> | undefined): string {
  if (!e) return 'NO EXPECTATION';
  return typeof e === 'function' ? 'intents' : `refused ${e.refused.code}`;
}
