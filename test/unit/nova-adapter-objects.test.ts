/**
 * Nova object decoding (tolerant of what hostwall does not read, strict on
 * what it does), the compute RPC version rule, unsupported methods, and the
 * small translation rules that no golden fixture exercises.
 */
import { expect } from 'chai';
import {
  adaptNovaRequest, BlockDeviceMapping, checkNovaRpcVersion, decodeNova, Flavor, Instance, InstanceExternalEvent,
  instanceName, NetworkRequestList, RequestSpec,
} from '../../src/adapters/nova';
import { RejectedError } from '../../src/errors';
import { loadNovaFixtures } from '../compat/nova-capture-fixtures';
import { thrownBy } from '../support/failure';

const fixtures = loadNovaFixtures();
function args(file: string): Record<string, unknown> {
  const f = fixtures.get(file);
  if (!f) throw new Error(`missing fixture ${file}`);
  return structuredClone(f.message.args);
}
type Primitive = Record<string, unknown> & { 'nova_object.data': Record<string, unknown> };
const instanceOf = (file = 'start_instance.json') => args(file).instance as Primitive;

const refusal = (fn: () => unknown): RejectedError => thrownBy(RejectedError, fn);

describe('Nova objects: decoding primitives', () => {
  it('decodes a real Instance 2.7 with its Flavor 1.2 and info cache network_info JSON', () => {
    const inst = decodeNova(Instance, instanceOf(), 'test');
    expect(inst).to.include({ name: 'Instance', version: '2.7' });
    expect(inst.data).to.include({ uuid: 'a3b8e0f2-5c1d-4e6f-9a7b-2c3d4e5f6a7b', id: 42, vm_state: 'active' });
    expect(inst.data.flavor?.data).to.include({ vcpus: 2, memory_mb: 2048, root_gb: 20 });
    expect(inst.data.info_cache?.data.network_info?.[0]).to.deep.include({ id: '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b', type: 'ovs', address: 'fa:16:3e:4c:2d:10' });
    expect(inst.changes).to.include('uuid');
  });

  it('tolerates fields and newer minors it does not read', () => {
    const p = instanceOf();
    p['nova_object.version'] = '2.99';
    p['nova_object.data'].shares = { future: true };
    const inst = decodeNova(Instance, p, 'test');
    expect(inst.version).to.equal('2.99');
    expect((inst.data as Record<string, unknown>).shares).to.deep.equal({ future: true });
  });

  it('is strict on what it uses: the instance uuid, the flavor sizes', () => {
    const p = instanceOf();
    p['nova_object.data'].uuid = 'instance-1';
    const bad = refusal(() => decodeNova(Instance, p, 'stop_instance'));
    expect(bad.code).to.equal('INVALID_INTENT');
    expect(bad.message).to.match(/^stop_instance: nova_object\.data\.uuid: /);
    const fl = (instanceOf()['nova_object.data'].flavor as Primitive);
    for (const vcpus of ['2', 2.5, null]) {
      fl['nova_object.data'].vcpus = vcpus;
      expect(refusal(() => decodeNova(Flavor, fl, 'f')).message, String(vcpus)).to.match(/nova_object\.data\.vcpus/);
    }
  });

  it('refuses an object of a major it does not read as UNSUPPORTED_VERSION, even nested', () => {
    const p = instanceOf();
    p['nova_object.version'] = '3.0';
    const top = refusal(() => decodeNova(Instance, p, 'x'));
    expect(top.code).to.equal('UNSUPPORTED_VERSION');
    expect(top.message).to.include('Instance version 3.0 is not one hostwall reads (2.x)');
    const q = instanceOf();
    (q['nova_object.data'].flavor as Primitive)['nova_object.version'] = '2.0';
    expect(refusal(() => decodeNova(Instance, q, 'x')).code).to.equal('UNSUPPORTED_VERSION');
  });

  it('refuses another object where one is expected, naming it', () => {
    const p = instanceOf();
    p['nova_object.name'] = 'Migration';
    expect(refusal(() => decodeNova(Instance, p, 'x')).message).to.match(/must be a Instance primitive/);
  });

  it('parses a BDM connection_info JSON string, and refuses one that is not JSON', () => {
    const bdm = args('attach_volume.connection_info.json').bdm as Primitive;
    const ok = decodeNova(BlockDeviceMapping, bdm, 'x');
    expect(ok.data.connection_info).to.deep.include({ driver_volume_type: 'iscsi', serial: '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' });
    bdm['nova_object.data'].connection_info = '{"driver_volume_type": ';
    expect(refusal(() => decodeNova(BlockDeviceMapping, bdm, 'x')).message).to.match(/connection_info: must be a JSON string/);
  });

  it('decodes NetworkRequestList, RequestSpec with ImageMeta, and InstanceExternalEvent; strict on port ids and statuses', () => {
    const b = args('build_and_run_instance.json');
    const nets = decodeNova(NetworkRequestList, b.requested_networks, 'x');
    expect(nets.data.objects[0]?.data.port_id).to.equal('5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b');
    const spec = decodeNova(RequestSpec, b.request_spec, 'x');
    expect(spec.data.image?.data.id).to.equal('0d9c6b5a-4e3f-4a2b-8c1d-9e8f7a6b5c4d');
    expect(spec.data.image?.data.properties?.name).to.equal('ImageMetaProps');
    ((b.requested_networks as Primitive)['nova_object.data'].objects as Primitive[])[0]['nova_object.data'].port_id = 'port-1';
    expect(refusal(() => decodeNova(NetworkRequestList, b.requested_networks, 'x')).message).to.match(/objects\.0\.nova_object\.data\.port_id/);
    const ev = (args('external_instance_event.json').events as Primitive[])[0];
    expect(decodeNova(InstanceExternalEvent, ev, 'x').data).to.include({ name: 'network-vif-plugged', status: 'completed' });
    if (ev) ev['nova_object.data'].status = 'done';
    expect(refusal(() => decodeNova(InstanceExternalEvent, ev, 'x')).message).to.match(/status/);
  });
});

describe('Nova adapter: versions and methods', () => {
  it('accepts 6.0-6.1 and the 5.x forms up to 5.13; refuses the rest as UnsupportedVersion', () => {
    for (const v of ['6.0', '6.1', '5.0', '5.11', '5.13']) expect(checkNovaRpcVersion('m', v), v).to.be.an('object');
    for (const v of ['6.2', '7.0', '5.14', '4.22', 'x', undefined]) {
      const err = refusal(() => checkNovaRpcVersion('stop_instance', v));
      expect(err.code, String(v)).to.equal('UNSUPPORTED_VERSION');
      expect(err.osloClass).to.equal('UnsupportedVersion');
    }
    expect(refusal(() => checkNovaRpcVersion('stop_instance', undefined)).message).to.match(/RPC version 1\.0\. Attempted method: stop_instance/);
  });

  it('refuses an unsupported method as NoSuchMethod naming it, after the version check (oslo order)', () => {
    const err = refusal(() => adaptNovaRequest({ method: 'get_vnc_console', version: '6.0', args: {} }));
    expect(err.code).to.equal('UNKNOWN_KIND');
    expect(err.osloClass).to.equal('NoSuchMethod');
    expect(err.message).to.equal('Nova compute RPC method get_vnc_console is not supported by hostwall yet');
    expect(refusal(() => adaptNovaRequest({ method: 'get_vnc_console', version: '6.3', args: {} })).code).to.equal('UNSUPPORTED_VERSION');
  });

  it('refuses a supported method with a missing argument, naming it', () => {
    const err = refusal(() => adaptNovaRequest({ method: 'reboot_instance', version: '6.0', args: { instance: instanceOf() } }));
    expect(err.code).to.equal('INVALID_INTENT');
    expect(err.message).to.match(/^reboot_instance: reboot_type: /);
  });
});

describe('Nova adapter: translation rules', () => {
  it('names the guest as Nova does (instance_name_template)', () => {
    const inst = decodeNova(Instance, instanceOf(), 'x');
    expect(instanceName(inst)).to.equal('instance-0000002a');
    expect(instanceName(inst, 'guest-%d')).to.equal('guest-42');
    expect(instanceName(inst, '%(hostname)s-%(uuid)s')).to.equal('web-1-a3b8e0f2-5c1d-4e6f-9a7b-2c3d4e5f6a7b');
    expect(instanceName(inst, '%(no_such)s')).to.equal(inst.data.uuid);
    const p = instanceOf();
    delete p['nova_object.data'].id;
    expect(instanceName(decodeNova(Instance, p, 'x'))).to.equal(inst.data.uuid);
  });

  it('caps an image shutdown timeout at the intent maximum and says so', () => {
    const a = args('stop_instance.json');
    ((a.instance as Primitive)['nova_object.data'].system_metadata as Record<string, string>).image_os_shutdown_timeout = '7200';
    const out = adaptNovaRequest({ method: 'stop_instance', version: '6.0', args: a });
    expect(out.intents[0]?.args).to.deep.include({ timeout_s: 3600 });
    expect(out.ignored).to.deep.equal(['image_os_shutdown_timeout above 3600s']);
  });

  it('does not wait for ports already known active (they send no network-vif-plugged)', () => {
    const port = { port_id: '5e0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b', mac_address: 'fa:16:3e:4c:2d:10', vif_type: 'ovs' as const, network: { bridge: 'br-int' } };
    const out = adaptNovaRequest({ method: 'build_and_run_instance', version: '6.0', args: args('build_and_run_instance.json') }, { port: () => ({ port, active: true }) });
    expect(out.intents[0]?.args).to.deep.include({ wait_for_ports: false });
  });

  it('refuses accelerator requests and events for instances not sent', () => {
    const b = args('build_and_run_instance.json');
    b.accel_uuids = ['arq-1'];
    expect(refusal(() => adaptNovaRequest({ method: 'build_and_run_instance', version: '6.0', args: b })).message).to.match(/accelerator request\(s\) need Cyborg/);
    const e = args('external_instance_event.json');
    ((e.events as Primitive[])[0] ?? expect.fail())['nova_object.data'].instance_uuid = '11111111-2222-4333-8444-555555555555';
    expect(refusal(() => adaptNovaRequest({ method: 'external_instance_event', version: '6.0', args: e })).message).to.match(/not among the instances sent/);
  });

  it('reads tail_length as int() does, and omits it when None', () => {
    const a = args('get_console_output.json');
    a.tail_length = '20';
    expect(adaptNovaRequest({ method: 'get_console_output', version: '6.0', args: a }).intents[0]?.args).to.deep.include({ tail_length: 20 });
    a.tail_length = null;
    expect(adaptNovaRequest({ method: 'get_console_output', version: '6.0', args: a }).intents[0]?.args).not.to.have.property('tail_length');
  });
});
