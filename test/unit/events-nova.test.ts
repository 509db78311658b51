import { expect } from 'chai';
import type { InstanceView, IntentRequest } from '../../src/host-state/instance-view';
import { LegacyInstancePayload, novaStrtime, pythonExceptionRepr, pythonStrDatetime } from '../../src/events/nova-legacy';
import {
  NOVA_ACTIONS, NovaNotification, type NovaNotificationOut, novaEventType, novaNotifications, notificationTopicsOf,
  type NovaPhaseInput,
} from '../../src/events/nova-notification';
import { novaDateTime } from '../../src/events/nova-payload';
import type { Intent } from '../../src/intents';

const AT = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const UUID = '178b0921-8f85-4257-88b6-2e743b5a975c';
const VOL = 'a07f71dc-8151-4e7d-a0cc-cd24a3f11113';
const request: IntentRequest = {
  intent_id: 'i-1', request_id: 'req-1', global_request_id: undefined, user_id: 'u1', project_id: 'p1', issuer: 'nova',
};
const facts = (over: Partial<InstanceView> = {}): InstanceView => ({
  uuid: UUID, name: 'instance-00000001', host: 'h1', flavor: { vcpus: 2, memory_mb: 512, root_gb: 1 }, image_id: 'img-1',
  metadata: { role: 'db' }, power_state: 'running', vm_state: 'active', task_state: null,
  created_at: '2026-01-01T00:00:00.000Z', launched_at: '2026-01-01T00:00:09.500Z', terminated_at: undefined,
  ports: [], volumes: [{ volume_id: VOL, device: 'vdb' }], ...over,
});
const FAULT = { code: 'LIBVIRT_ERROR', message: 'boom', osloClass: 'LibvirtError', osloModule: 'hostwall.errors' };

const ofInstance = (kind: Intent['kind']): Intent => ({ kind, args: { instance_uuid: UUID } }) as Intent;
const volumeAttach: Intent = { kind: 'volume.attach', args: { instance_uuid: UUID, volume_id: VOL, connection_info: { driver_volume_type: 'iscsi', data: {} } } };
const reboot = (type: 'soft' | 'hard'): Intent => ({ kind: 'instance.reboot', args: { instance_uuid: UUID, type } });

function run(intent: Intent, phase: NovaPhaseInput['phase'], f = facts(), format: 'versioned' | 'unversioned' | 'both' = 'versioned'): NovaNotificationOut[] {
  const out = novaNotifications({ intent, phase, facts: f, request, fault: phase === 'error' ? FAULT : undefined, at: AT }, { notification_format: format });
  for (const o of out) {
    const r = NovaNotification.safeParse(o.notification);
    expect(r.success, r.success ? '' : `${o.notification.event_type}: ${JSON.stringify(r.error.issues)}`).to.equal(true);
    expect(JSON.stringify(o.notification)).not.to.contain('nova_object.changes');
  }
  return out;
}
const types = (out: NovaNotificationOut[]) => out.map((o) => o.notification.event_type);
function data(o: NovaNotificationOut | undefined): Record<string, unknown> {
  const p = o?.notification.payload as Record<string, unknown> | undefined;
  return (p?.['nova_object.data'] ?? {}) as Record<string, unknown>;
}

describe('Nova notifications: event types and phases', () => {
  it('maps each kind to Nova’s event type', () => {
    const expected: Record<string, string> = {
      'instance.spawn': 'create', 'instance.destroy': 'delete', 'instance.power_off': 'power_off', 'instance.power_on': 'power_on',
      'instance.reboot': 'reboot', 'instance.pause': 'pause', 'instance.unpause': 'unpause', 'instance.suspend': 'suspend',
      'instance.resume': 'resume', 'volume.attach': 'volume_attach', 'volume.detach': 'volume_detach',
      'port.plug': 'interface_attach', 'port.unplug': 'interface_detach',
    };
    for (const [kind, action] of Object.entries(expected)) {
      expect(novaEventType(kind as Intent['kind'], 'start')).to.equal(`instance.${action}.start`);
    }
    expect(Object.keys(NOVA_ACTIONS)).to.have.members(Object.keys(expected));
    expect(novaEventType('instance.get_state', 'end')).to.equal(undefined);
    expect(run(ofInstance('instance.get_state'), 'end')).to.deep.equal([]);
  });

  it('power_off: .start shows powering-off, .end stopped/shutdown, from nova-compute:<host>', () => {
    const [start] = run(ofInstance('instance.power_off'), 'start', facts({ task_state: 'powering-off' }));
    expect(start?.notification).to.include({ event_type: 'instance.power_off.start', priority: 'INFO', publisher_id: 'nova-compute:h1' });
    expect(start?.topics).to.deep.equal(['versioned_notifications']);
    expect(data(start)).to.include({ task_state: 'powering-off', state: 'active', power_state: 'running', fault: null });
    const [end] = run(ofInstance('instance.power_off'), 'end', facts({ power_state: 'shutdown', vm_state: 'stopped' }));
    expect(data(end)).to.include({ task_state: null, state: 'stopped', power_state: 'shutdown' });
    expect(end?.notification.payload).to.include({ 'nova_object.version': '1.8' });
  });

  it('reboot .start carries reboot_pending, or reboot_pending_hard', () => {
    expect(data(run(reboot('soft'), 'start')[0])).to.include({ task_state: 'reboot_pending' });
    expect(data(run(reboot('hard'), 'start')[0])).to.include({ task_state: 'reboot_pending_hard' });
  });

  it('create uses InstanceCreatePayload 1.12 with the requester as owner', () => {
    const spawn: Intent = { kind: 'instance.spawn', args: { instance_uuid: UUID, name: 'instance-00000001', flavor: { vcpus: 2, memory_mb: 512, root_gb: 1 } } };
    const [start] = run(spawn, 'start', facts({ power_state: 'pending', vm_state: 'building', task_state: 'spawning', launched_at: undefined }));
    const payload = start?.notification.payload as Record<string, unknown>;
    expect(payload).to.include({ 'nova_object.name': 'InstanceCreatePayload', 'nova_object.version': '1.12', 'nova_object.namespace': 'nova' });
    expect(data(start)).to.deep.include({
      state: 'building', power_state: 'pending', task_state: null, instance_name: 'instance-00000001', keypairs: [], tags: [],
      trusted_image_certificates: null, user_id: 'u1', tenant_id: 'p1', launched_at: null,
    });
    const [error] = run(spawn, 'error', facts({ power_state: 'pending', vm_state: 'error' }));
    expect(error?.notification).to.include({ event_type: 'instance.create.error', priority: 'ERROR' });
    expect(data(error)).to.include({ state: 'building', task_state: 'spawning' });
    expect((data(error).fault as Record<string, unknown>)['nova_object.data']).to.deep.equal({
      module_name: 'hostwall.errors', function_name: 'build_and_run_instance', exception: 'LibvirtError', exception_message: 'boom', traceback: '',
    });
  });

  it('a later action does not take the requester for the owner', () => {
    expect(data(run(ofInstance('instance.pause'), 'end')[0])).to.include({ user_id: null, tenant_id: null, action_initiator_user: 'u1', action_initiator_project: 'p1', request_id: 'req-1' });
    const owned = facts({ owner: { user_id: 'owner', project_id: 'tenant' } });
    expect(data(run(ofInstance('instance.pause'), 'end', owned)[0])).to.include({ user_id: 'owner', tenant_id: 'tenant' });
  });

  it('volume_attach uses InstanceActionVolumePayload 1.6 with the volume id; block devices only where Nova passes BDMs', () => {
    const [end] = run(volumeAttach, 'end');
    expect(end?.notification.payload).to.include({ 'nova_object.name': 'InstanceActionVolumePayload', 'nova_object.version': '1.6' });
    expect(data(end)).to.include({ volume_id: VOL, block_devices: null });
    const [del] = run(ofInstance('instance.destroy'), 'start');
    const bdms = data(del).block_devices as Record<string, Record<string, unknown>>[];
    expect(bdms[0]?.['nova_object.data']).to.deep.equal({ device_name: '/dev/vdb', boot_index: null, delete_on_termination: false, volume_id: VOL, tag: null });
  });

  it('interface attach/detach use InstanceActionPayload', () => {
    const plug: Intent = { kind: 'port.plug', args: { instance_uuid: UUID, port: { port_id: 'p-1', mac_address: 'fa:16:3e:00:00:01', vif_type: 'ovs', network: { bridge: 'br-int' } } } };
    const [end] = run(plug, 'end');
    expect(end?.notification.event_type).to.equal('instance.interface_attach.end');
    expect(end?.notification.payload).to.include({ 'nova_object.name': 'InstanceActionPayload' });
  });

  it('delete.end shows deleted, power pending, deleted_at and terminated_at', () => {
    const [end] = run(ofInstance('instance.destroy'), 'end', facts({ power_state: 'shutdown', vm_state: 'deleted', terminated_at: AT.toISOString() }));
    expect(data(end)).to.include({ state: 'deleted', power_state: 'pending', task_state: null, deleted_at: '2026-01-02T03:04:05Z', terminated_at: '2026-01-02T03:04:05Z' });
  });

  it('errors follow Nova: .error only where Nova has one, compute.exception otherwise', () => {
    expect(types(run(ofInstance('instance.power_off'), 'error'))).to.deep.equal(['compute.exception']);
    expect(types(run(volumeAttach, 'error'))).to.deep.equal(['instance.volume_attach.error', 'compute.exception']);
    expect(types(run(reboot('hard'), 'error'))).to.deep.equal(['instance.reboot.error', 'instance.reboot.end']);
    expect(types(run(reboot('hard'), 'error', facts({ power_state: 'shutdown' })))).to.deep.equal(['compute.exception']);
    const [exc] = run(ofInstance('instance.suspend'), 'error');
    expect(exc?.notification).to.include({ priority: 'ERROR', publisher_id: 'nova-compute:h1' });
    expect(exc?.notification.payload).to.include({ 'nova_object.name': 'ExceptionPayload', 'nova_object.version': '1.1' });
    const [rebootError] = run(reboot('hard'), 'error');
    expect(data(rebootError)).to.include({ task_state: 'reboot_started_hard' });
  });

  it('formats times as Nova does', () => {
    expect(novaDateTime('2026-01-02T03:04:05.678Z')).to.equal('2026-01-02T03:04:05Z');
    expect(novaDateTime(undefined)).to.equal(null);
    expect(novaDateTime('not a time')).to.equal(null);
    expect(pythonStrDatetime('2026-01-02T03:04:05.000Z')).to.equal('2026-01-02 03:04:05+00:00');
    expect(pythonStrDatetime('2026-01-02T03:04:05.678Z')).to.equal('2026-01-02 03:04:05.678000+00:00');
    expect(novaStrtime('2026-01-02T03:04:05.000Z')).to.equal('2026-01-02T03:04:05.000000');
    expect(novaStrtime(undefined)).to.equal('');
    expect(pythonExceptionRepr('ValueError', "it's")).to.equal('ValueError("it\'s")');
  });

  it('omits request_id for a context without user and project, as Nova does', () => {
    const anonymous = { ...request, user_id: undefined, project_id: undefined };
    const [n] = novaNotifications({ intent: ofInstance('instance.pause'), phase: 'end', facts: facts(), request: anonymous, at: AT });
    expect(data(n)).to.include({ request_id: null, action_initiator_user: null });
  });
});

describe('Nova notifications: formats', () => {
  it('unversioned: compute.instance.<action>.<phase> on notifications, from compute.<host>', () => {
    const [n, ...rest] = run(ofInstance('instance.power_off'), 'end', facts({ power_state: 'shutdown', vm_state: 'stopped' }), 'unversioned');
    expect(rest).to.deep.equal([]);
    expect(n?.topics).to.deep.equal(['notifications']);
    expect(n?.notification).to.include({ event_type: 'compute.instance.power_off.end', priority: 'INFO', publisher_id: 'compute.h1' });
    const p = LegacyInstancePayload.parse(n?.notification.payload);
    expect(p).to.include({ instance_id: UUID, state: 'stopped', state_description: '', tenant_id: null, memory_mb: 512, disk_gb: 1, progress: '' });
    expect(p).not.to.have.property('power_state');
    expect(p.created_at).to.equal('2026-01-01 00:00:00+00:00');
    expect(p.launched_at).to.equal('2026-01-01T00:00:09.500000');
  });

  it('both: legacy first, then versioned, as Nova sends them', () => {
    const out = run(ofInstance('instance.pause'), 'start', facts({ task_state: 'pausing' }), 'both');
    expect(out.map((o) => `${o.format}:${o.notification.event_type}`)).to.deep.equal([
      'unversioned:compute.instance.pause.start', 'versioned:instance.pause.start',
    ]);
    expect(out[0]?.notification.payload).to.include({ state_description: 'pausing' });
  });

  it('legacy events exist only where Nova sends them', () => {
    expect(types(run(volumeAttach, 'start', facts(), 'unversioned'))).to.deep.equal([]);
    const [attached] = run(volumeAttach, 'end', facts(), 'unversioned');
    expect(attached?.notification.event_type).to.equal('compute.instance.volume.attach');
    expect(attached?.notification.payload).to.include({ volume_id: VOL });
    const unplug: Intent = { kind: 'port.unplug', args: { instance_uuid: UUID, port_id: 'p-1' } };
    expect(run(unplug, 'end', facts(), 'unversioned')).to.deep.equal([]);
    const spawn: Intent = { kind: 'instance.spawn', args: { instance_uuid: UUID, name: 'n', flavor: { vcpus: 1, memory_mb: 1, root_gb: 0 } } };
    const [created] = run(spawn, 'end', facts(), 'unversioned');
    expect(created?.notification.payload).to.include({ message: 'Success' }).and.have.deep.property('fixed_ips', []);
    const [failed] = run(spawn, 'error', facts(), 'unversioned');
    expect(failed?.notification).to.include({ event_type: 'compute.instance.create.error', priority: 'ERROR' });
    expect(failed?.notification.payload).to.include({ exception: "LibvirtError('boom')", message: 'boom', code: 500 });
  });

  it('declares the topics of the chosen format', () => {
    expect(notificationTopicsOf({ notification_format: 'versioned' })).to.deep.equal(['versioned_notifications']);
    expect(notificationTopicsOf({ notification_format: 'unversioned' })).to.deep.equal(['notifications']);
    expect(notificationTopicsOf({ notification_format: 'both' })).to.deep.equal(['notifications', 'versioned_notifications']);
    expect(notificationTopicsOf()).to.deep.equal(['versioned_notifications']);
  });
});
