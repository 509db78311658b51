import { expect } from 'chai';
import type { InstanceView, IntentRequest } from '../../src/host-state/instance-view';
import { instanceState, intentAccepted, intentOutcome, intentRejected, routingKeyOf } from '../../src/events/native';
import { EVENT_NAMES, EVENT_SCHEMAS, eventRoutingKey, type HostwallEvent, parseEvent } from '../../src/events/schemas';

const AT = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const ORIGIN = { host: 'h1', at: AT };
const UUID = '178b0921-8f85-4257-88b6-2e743b5a975c';

const request: IntentRequest = {
  intent_id: 'i-1', request_id: 'req-1', global_request_id: undefined, user_id: 'u', project_id: 'p', issuer: 'nova',
};

const facts: InstanceView = {
  uuid: UUID, name: 'vm1', host: 'h1', flavor: { vcpus: 1, memory_mb: 128, root_gb: 1 }, image_id: 'cirros',
  metadata: {}, power_state: 'shutdown', vm_state: 'stopped', task_state: null, created_at: AT.toISOString(),
  launched_at: undefined, terminated_at: undefined, ports: [], volumes: [],
};

function validates(e: HostwallEvent): void {
  const parsed = EVENT_SCHEMAS[e.event].schema.safeParse(e);
  expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).to.equal(true);
  expect(parseEvent(e)).to.deep.equal(e);
}

describe('native events', () => {
  it('intent.accepted carries the envelope, the kind and the instance', () => {
    const e = intentAccepted('instance.power_off', request, UUID, ORIGIN);
    validates(e);
    expect(e).to.deep.equal({
      event: 'intent.accepted', version: '1.0', intent_id: 'i-1', request_id: 'req-1', global_request_id: null,
      host: 'h1', at: '2026-01-02T03:04:05.678Z', kind: 'instance.power_off', instance_uuid: UUID,
    });
  });

  it('intent.succeeded reports the power and vm state in Nova words', () => {
    const e = intentOutcome({ status: 'succeeded', intentId: 'i-1', kind: 'instance.power_off', instance: facts }, request, {}, ORIGIN);
    validates(e);
    expect(e).to.deep.include({ event: 'intent.succeeded', instance_uuid: UUID, power_state: 'shutdown', vm_state: 'stopped', task_state: null });
    expect(e).not.to.have.any.keys('redelivered', 'replayed');
  });

  it('intent.succeeded for a host intent has null instance fields', () => {
    const e = intentOutcome({ status: 'succeeded', intentId: 'i-2', kind: 'host.inventory', instance: undefined }, request, {}, ORIGIN);
    validates(e);
    expect(e).to.deep.include({ intent_id: 'i-2', instance_uuid: null, power_state: null, vm_state: null, task_state: null });
  });

  it('intent.failed carries error {code, message}, and the instance uuid when the facts are gone', () => {
    const e = intentOutcome(
      { status: 'failed', intentId: 'i-1', kind: 'instance.power_on', instance: undefined, instanceUuid: UUID, error: { code: 'INSTANCE_NOT_FOUND', message: 'no such domain' } },
      request, {}, ORIGIN,
    );
    validates(e);
    expect(e).to.deep.include({ event: 'intent.failed', instance_uuid: UUID, error: { code: 'INSTANCE_NOT_FOUND', message: 'no such domain' } });
  });

  it('a re-published outcome says redelivered or replayed', () => {
    const o = { status: 'succeeded' as const, intentId: 'i-1', kind: 'instance.pause', instance: facts };
    const again = intentOutcome(o, request, { redelivered: true }, ORIGIN);
    const replay = intentOutcome(o, request, { replayed: true }, ORIGIN);
    validates(again);
    validates(replay);
    expect(again).to.include({ redelivered: true }).and.not.have.property('replayed');
    expect(replay).to.include({ replayed: true }).and.not.have.property('redelivered');
  });

  it('cuts a runaway error message instead of failing the event', () => {
    const e = intentOutcome({ status: 'failed', intentId: 'i-1', kind: 'instance.reboot', instance: facts, error: { code: 'LIBVIRT_ERROR', message: 'x'.repeat(10_000) } }, request, {}, ORIGIN);
    validates(e);
  });

  it('intent.rejected: unknown intent id is null, the original routing key and method are kept', () => {
    const e = intentRejected({ code: 'INVALID_INTENT', message: 'instance_uuid: Required' }, { intent_id: '' }, { routingKey: 'compute.h1', method: 'instance.power_on' }, ORIGIN);
    validates(e);
    expect(e).to.deep.include({ intent_id: null, request_id: null, kind: 'instance.power_on', routing_key: 'compute.h1' });
    const undecodable = intentRejected({ code: 'NOT_JSON', message: 'bad' }, {}, { routingKey: 'compute', method: undefined }, ORIGIN);
    validates(undecodable);
    expect(undecodable.kind).to.equal(null);
  });

  it('instance.state names its cause; hypervisor events have no request', () => {
    const e = instanceState(facts, undefined, 'hypervisor', ORIGIN);
    validates(e);
    expect(e).to.deep.include({ intent_id: null, request_id: null, cause: 'hypervisor', power_state: 'shutdown' });
    validates(instanceState(facts, request, 'intent', ORIGIN));
  });

  it('the schemas refuse an unknown field, a bad state and a non-ISO time', () => {
    const good = intentAccepted('instance.pause', request, UUID, ORIGIN);
    expect(() => parseEvent({ ...good, surprise: 1 })).to.throw();
    expect(() => parseEvent({ ...instanceState(facts, undefined, 'reconcile', ORIGIN), power_state: 'off' })).to.throw();
    expect(() => parseEvent({ ...good, at: '2026-01-02 03:04:05' })).to.throw();
    expect(() => parseEvent({ ...good, version: '2.0' })).to.throw();
  });

  it('routes as <host>.<subject>.<event>', () => {
    expect(eventRoutingKey('h1', 'intent.succeeded')).to.equal('h1.intent.succeeded');
    expect(eventRoutingKey('h1', 'instance.state')).to.equal('h1.instance.state');
    expect(routingKeyOf(instanceState(facts, undefined, 'hypervisor', ORIGIN))).to.equal('h1.instance.state');
    expect(routingKeyOf(intentRejected({ code: 'POISON', message: 'x' }, {}, { routingKey: 'compute', method: undefined }, { host: 'cmp-1.example.org' })))
      .to.equal('cmp-1.example.org.intent.rejected');
  });

  it('every event name has a version 1.0 schema', () => {
    expect(EVENT_NAMES).to.have.members(['intent.accepted', 'intent.succeeded', 'intent.failed', 'intent.rejected', 'instance.state']);
    for (const n of EVENT_NAMES) expect(EVENT_SCHEMAS[n].version).to.equal('1.0');
  });
});
