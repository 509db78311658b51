import { expect } from 'chai';
import { RejectedError } from '../../src/errors';
import { INTENT_KINDS, lockKeysOf, parseVersion, REGISTRY, selectVersion, validateIntent } from '../../src/intents';

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
  it('registers every kind of DESIGN §3 at version 1.0', () => {
    expect(INTENT_KINDS).to.have.members([
      'instance.spawn', 'instance.destroy', 'instance.power_on', 'instance.power_off', 'instance.reboot',
      'instance.pause', 'instance.unpause', 'instance.suspend', 'instance.resume', 'instance.get_state',
      'volume.attach', 'volume.detach', 'port.plug', 'port.unplug', 'port.ready', 'host.connector', 'host.inventory',
    ]);
    for (const def of REGISTRY.values()) expect(def.versions.map((v) => `${v.major}.${v.minor}`)).to.deep.equal(['1.0']);
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

  it('does not lock the ports of a spawn (it waits for their port.ready)', () => {
    const spawn = validateIntent('instance.spawn', '1.0', { instance_uuid: UUID, name: 'n', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 }, ports: [PORT] });
    expect(lockKeysOf(spawn)).to.deep.equal([`instance:${UUID}`]);
    expect(lockKeysOf(validateIntent('port.ready', '1.0', { port_id: PORT.port_id }))).to.deep.equal([`port:${PORT.port_id}`]);
  });

  it('takes no lock for reads', () => {
    expect(lockKeysOf(validateIntent('host.inventory', '1.0', {}))).to.deep.equal([]);
    expect(lockKeysOf(validateIntent('instance.get_state', '1.0', { instance_uuid: UUID }))).to.deep.equal([]);
  });
});
