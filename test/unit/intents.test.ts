import { expect } from 'chai';
import { RejectedError } from '../../src/errors';
import {
  currentVersion, INTENT_KINDS, instanceOf, lockKeysOf, parseVersion, REGISTRY, REPLY_SCHEMAS, selectVersion, validateIntent,
} from '../../src/intents';

const UUID = '8f0e5c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
const PORT = { port_id: '3f2a1b4c-aaaa-bbbb-cccc-000000000001', mac_address: 'fa:16:3e:00:00:01', vif_type: 'ovs', network: { bridge: 'br-int', mtu: 1450 } };

function rejection(fn: () => unknown): RejectedError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RejectedError);
    return err as RejectedError;
  }
  throw new Error('expected a RejectedError');
}

describe('intent schemas', () => {
  it('registers every kind of docs/design.md, the kinds Nova\'s adapter needs and host.intents, each with a reply schema', () => {
    expect(INTENT_KINDS).to.have.members([
      'instance.spawn', 'instance.destroy', 'instance.power_on', 'instance.power_off', 'instance.reboot',
      'instance.pause', 'instance.unpause', 'instance.suspend', 'instance.resume', 'instance.get_state',
      'instance.console_output', 'volume.attach', 'volume.detach', 'volume.reserve_device', 'volume.extend',
      'port.plug', 'port.unplug', 'port.ready', 'host.connector', 'host.inventory', 'host.uptime', 'host.intents',
    ]);
    for (const kind of INTENT_KINDS) expect(REPLY_SCHEMAS[kind], kind).to.not.equal(undefined);
  });

  it('publishes 1.0 and 1.1 of volume.attach, volume.detach and host.intents, 1.0 of every other kind', () => {
    for (const def of REGISTRY.values()) {
      const want = ['volume.attach', 'volume.detach', 'host.intents'].includes(def.kind) ? ['1.0', '1.1'] : ['1.0'];
      expect(def.versions.map((v) => `${v.major}.${v.minor}`), def.kind).to.deep.equal(want);
      expect(currentVersion(def.kind)).to.equal(want[want.length - 1]);
    }
  });

  it('names who may send the new kinds, and lets Nova relay port.ready', () => {
    const issuers = (k: string) => [...(REGISTRY.get(k as 'host.uptime')?.issuers ?? [])].sort();
    expect(issuers('instance.console_output')).to.deep.equal(['nova', 'operator']);
    expect(issuers('host.uptime')).to.deep.equal(['nova', 'operator']);
    expect(issuers('host.intents')).to.deep.equal(['nova', 'operator']);
    expect(issuers('volume.reserve_device')).to.deep.equal(['cinder', 'nova']);
    expect(issuers('volume.extend')).to.deep.equal(['cinder', 'nova']);
    expect(issuers('port.ready')).to.deep.equal(['neutron', 'nova']);
    expect(REGISTRY.get('volume.reserve_device')?.scheduling).to.equal('mutate');
    expect(REGISTRY.get('volume.extend')?.scheduling).to.equal('mutate');
    for (const k of ['instance.console_output', 'host.uptime', 'host.intents'] as const) expect(REGISTRY.get(k)?.scheduling, k).to.equal('read');
  });

  it('accepts a full spawn and fills defaults of power_off and reboot', () => {
    const spawn = validateIntent('instance.spawn', '1.0', {
      instance_uuid: UUID, name: 'instance-00000001', flavor: { vcpus: 1, memory_mb: 512, root_gb: 1 },
      image: { id: 'cirros' }, ports: [PORT], metadata: { role: 'web' },
    });
    expect(spawn.kind).to.equal('instance.spawn');
    const off = validateIntent('instance.power_off', '1.0', { instance_uuid: UUID });
    expect(off.args).to.deep.include({ clean: true, timeout_s: 60 });
    const reboot = validateIntent('instance.reboot', undefined, { instance_uuid: UUID });
    expect(reboot.args).to.deep.include({ type: 'soft' });
  });

  it('rejects a missing field naming it', () => {
    const err = rejection(() => validateIntent('instance.power_on', '1.0', {}));
    expect(err.code).to.equal('INVALID_INTENT');
    expect(err.message).to.contain('instance_uuid');
    expect(err.osloClass).to.equal('InvalidIntent');
  });

  it('rejects unknown keys (strict), naming them', () => {
    const err = rejection(() => validateIntent('instance.pause', '1.0', { instance_uuid: UUID, force: true }));
    expect(err.message).to.contain('force');
  });

  it('rejects wrong types and bad values inside nested objects', () => {
    const err = rejection(() => validateIntent('port.plug', '1.0', { instance_uuid: UUID, port: { ...PORT, mac_address: 'zz' } }));
    expect(err.message).to.contain('port.mac_address');
    const err2 = rejection(() => validateIntent('instance.spawn', '1.0', { instance_uuid: UUID, name: 'x', flavor: { vcpus: '2', memory_mb: 1, root_gb: 1 } }));
    expect(err2.message).to.contain('flavor.vcpus');
  });

  it('bounds a spawn\'s metadata as Nova does: 128 items, keys of 1 to 255 characters, values of at most 255', () => {
    const spawn = (metadata: Record<string, string>) => () => validateIntent('instance.spawn', '1.0', { instance_uuid: UUID, name: 'n', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 }, metadata });
    const items = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    expect(spawn({ ...items(127), ['k'.repeat(255)]: 'v'.repeat(255) })).to.not.throw();
    expect(rejection(spawn(items(129))).message).to.match(/metadata.*128 items/);
    expect(rejection(spawn({ ['k'.repeat(256)]: 'v' })).message).to.contain('metadata');
    expect(rejection(spawn({ k: 'v'.repeat(256) })).message).to.contain('metadata');
    expect(rejection(spawn({ '': 'v' })).message).to.contain('metadata');
  });
});

describe('minor versions', () => {
  const ATTACH = { instance_uuid: UUID, volume_id: 'vol-1', connection_info: { driver_volume_type: 'local', data: {} } };

  it('accepts a 1.0 message by 1.0\'s schema and a 1.1 message with the fields 1.1 added', () => {
    expect(validateIntent('volume.attach', '1.0', ATTACH).args).to.deep.equal(ATTACH);
    const full = { ...ATTACH, attachment_id: 'att-1', disk_bus: 'virtio', device_type: 'disk', tag: 'data' };
    expect(validateIntent('volume.attach', '1.1', full).args).to.deep.equal(full);
    expect(validateIntent('volume.detach', '1.1', { instance_uuid: UUID, volume_id: 'vol-1', attachment_id: 'att-1' }).args).to.have.property('attachment_id', 'att-1');
  });

  it('refuses a 1.1 field in a message that says 1.0, naming the version that has it', () => {
    const err = rejection(() => validateIntent('volume.attach', '1.0', { ...ATTACH, attachment_id: 'att-1' }));
    expect(err.code).to.equal('INVALID_INTENT');
    expect(err.message).to.match(/^invalid volume\.attach 1\.0: .*attachment_id.*valid for volume\.attach 1\.1: send that version\)$/);
    // A plain mistake gets no such hint.
    expect(rejection(() => validateIntent('volume.attach', '1.0', { ...ATTACH, nope: 1 })).message).not.to.contain('send that version');
  });

  it('refuses 1.2 of a kind served up to 1.1, and 1.1 of a kind served at 1.0, listing what is served', () => {
    const err = rejection(() => selectVersion('volume.attach', '1.2'));
    expect(err.code).to.equal('UNSUPPORTED_VERSION');
    expect(err.message).to.contain('served: 1.1');
    expect(rejection(() => selectVersion('port.plug', '1.1')).message).to.contain('served: 1.0');
  });

  it('validates the new kinds strictly, with their defaults and bounds', () => {
    expect(validateIntent('host.intents', '1.0', {}).args).to.deep.equal({ limit: 100 });
    expect(validateIntent('host.intents', '1.0', { since: '2026-01-01T00:00:00Z', state: 'failed', instance_uuid: UUID, limit: 1000 }).args).to.include({ state: 'failed', limit: 1000 });
    expect(rejection(() => validateIntent('host.intents', '1.0', { limit: 1001 })).message).to.contain('limit');
    expect(rejection(() => validateIntent('host.intents', '1.0', { since: 'yesterday' })).message).to.contain('since');
    expect(rejection(() => validateIntent('host.intents', '1.0', { state: 'lost' })).message).to.contain('state');
    expect(rejection(() => validateIntent('volume.reserve_device', '1.0', { instance_uuid: UUID, volume_id: 'v', disk_bus: 'floppy-bus' })).message).to.contain('disk_bus');
    expect(rejection(() => validateIntent('volume.attach', '1.1', { ...ATTACH, tag: 'a/b' })).message).to.contain('tag');
    expect(validateIntent('instance.console_output', '1.0', { instance_uuid: UUID, tail_length: 0 }).args).to.deep.equal({ instance_uuid: UUID, tail_length: 0 });
    expect(rejection(() => validateIntent('host.uptime', '1.0', { verbose: true })).message).to.contain('verbose');
  });
});

describe('version negotiation (oslo rules)', () => {
  it('treats a missing version as 1.0 and accepts it', () => {
    expect(parseVersion(undefined)).to.deep.equal({ major: 1, minor: 0 });
    expect(selectVersion('instance.pause', undefined).major).to.equal(1);
  });

  it('refuses a higher minor with UnsupportedVersion', () => {
    const err = rejection(() => selectVersion('instance.pause', '1.1'));
    expect(err.code).to.equal('UNSUPPORTED_VERSION');
    expect(err.osloClass).to.equal('UnsupportedVersion');
    expect(err.osloModule).to.equal('oslo_messaging.rpc.dispatcher');
    expect(err.message).to.contain('1.1');
  });

  it('refuses an unknown major and a malformed version', () => {
    expect(rejection(() => selectVersion('instance.pause', '2.0')).code).to.equal('UNSUPPORTED_VERSION');
    expect(rejection(() => selectVersion('instance.pause', 'one')).code).to.equal('UNSUPPORTED_VERSION');
  });

  it('refuses an unknown kind with NoSuchMethod', () => {
    const err = rejection(() => selectVersion('instance.teleport', '1.0'));
    expect(err.code).to.equal('UNKNOWN_KIND');
    expect(err.osloClass).to.equal('NoSuchMethod');
  });
});

describe('lock keys', () => {
  it('locks the instance for instance intents and adds the device key for device intents', () => {
    expect(lockKeysOf(validateIntent('instance.reboot', '1.0', { instance_uuid: UUID }))).to.deep.equal([`instance:${UUID}`]);
    expect(lockKeysOf(validateIntent('volume.attach', '1.0', { instance_uuid: UUID, volume_id: 'vol-1', connection_info: { driver_volume_type: 'local', data: {} } }))).to.deep.equal([`instance:${UUID}`, 'volume:vol-1']);
    expect(lockKeysOf(validateIntent('port.plug', '1.0', { instance_uuid: UUID, port: PORT }))).to.deep.equal([`instance:${UUID}`, `port:${PORT.port_id}`]);
  });

  it('gives one resource one key whatever the case of its uuid; other ids and intent ids stay as sent', () => {
    const upper = UUID.toUpperCase();
    expect(lockKeysOf(validateIntent('instance.pause', '1.0', { instance_uuid: upper }))).to.deep.equal([`instance:${UUID}`]);
    const attach = validateIntent('volume.attach', '1.0', { instance_uuid: upper, volume_id: PORT.port_id.toUpperCase(), connection_info: { driver_volume_type: 'local', data: {} } });
    expect(lockKeysOf(attach)).to.deep.equal([`instance:${UUID}`, `volume:${PORT.port_id}`]);
    expect(lockKeysOf(validateIntent('port.ready', '1.0', { port_id: PORT.port_id.toUpperCase() }))).to.deep.equal([`port:${PORT.port_id}`]);
    expect(lockKeysOf(validateIntent('volume.detach', '1.0', { instance_uuid: UUID, volume_id: 'Vol-A' }))).to.deep.equal([`instance:${UUID}`, 'volume:Vol-A']);
    expect(validateIntent('instance.pause', '1.0', { instance_uuid: UUID, intent_id: upper }).args.intent_id).to.equal(upper);
  });

  it('does not lock the ports of a spawn (it waits for their port.ready)', () => {
    const spawn = validateIntent('instance.spawn', '1.0', { instance_uuid: UUID, name: 'n', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 }, ports: [PORT] });
    expect(lockKeysOf(spawn)).to.deep.equal([`instance:${UUID}`]);
    expect(lockKeysOf(validateIntent('port.ready', '1.0', { port_id: PORT.port_id }))).to.deep.equal([`port:${PORT.port_id}`]);
  });

  it('takes no lock for reads', () => {
    expect(lockKeysOf(validateIntent('host.inventory', '1.0', {}))).to.deep.equal([]);
    expect(lockKeysOf(validateIntent('instance.get_state', '1.0', { instance_uuid: UUID }))).to.deep.equal([]);
    expect(lockKeysOf(validateIntent('instance.console_output', '1.0', { instance_uuid: UUID }))).to.deep.equal([]);
    expect(lockKeysOf(validateIntent('host.uptime', '1.0', {}))).to.deep.equal([]);
    expect(lockKeysOf(validateIntent('host.intents', '1.0', { instance_uuid: UUID }))).to.deep.equal([]);
  });

  it('locks the instance and the volume for a reservation and an extend', () => {
    for (const kind of ['volume.reserve_device', 'volume.extend'] as const) {
      expect(lockKeysOf(validateIntent(kind, '1.0', { instance_uuid: UUID, volume_id: 'vol-1' })), kind).to.deep.equal([`instance:${UUID}`, 'volume:vol-1']);
    }
  });

  it('treats host.intents\' instance as a filter, not its subject', () => {
    expect(instanceOf(validateIntent('host.intents', '1.0', { instance_uuid: UUID }))).to.equal(undefined);
    expect(instanceOf(validateIntent('instance.console_output', '1.0', { instance_uuid: UUID }))).to.equal(UUID);
  });
});
