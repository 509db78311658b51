/**
 * What hostwall writes to Nova's database around Nova's requests, compared
 * with what a real nova-compute wrote for the same casts (the captured
 * upward traffic): the action events, the Instance.save guards and fields,
 * the scheduler casts, a delete's allocation removal and destroy; and what a
 * failure writes.
 */
import { expect } from 'chai';
import type { IntentHooks } from '../../src/dispatch/ports';
import { type ErrorInfo, errorInfo } from '../../src/dispatch/outcome';
import { ConductorClient } from '../../src/adapters/nova/conductor/conductor-client';
import { NovaRecords } from '../../src/adapters/nova/compute-host/nova-records';
import { SchedulerClient } from '../../src/adapters/nova/compute-host/scheduler-client';
import { IntentFailure, TransportError } from '../../src/errors';
import type { InstanceView } from '../../src/host-state/instance-view';
import { type Intent, validateIntent } from '../../src/intents';
import { createLogger } from '../../src/log';
import type { Transport } from '../../src/transport/transport';
import { type Answer, capturedAnswer, conductorCalls, groupCalls, receivedRequest, ScriptedRpc } from '../support/nova-upward';

const log = createLogger({ level: 'error', format: 'json' });
const HOST = 'nova-cp-compute1';

/** Declares nothing: the scheduler client only declares its fanout exchange. */
const transport = { declare: async () => undefined } as unknown as Transport;

function facts(uuid: string, power: InstanceView['power_state']): InstanceView {
  return {
    uuid, name: 'instance-00000001', host: HOST, flavor: undefined, image_id: undefined, metadata: {}, power_state: power,
    vm_state: power === 'running' ? 'active' : 'stopped', task_state: null, created_at: undefined, launched_at: undefined,
    terminated_at: undefined, ports: [], volumes: [],
  };
}

interface Setup {
  rpc: ScriptedRpc;
  records: NovaRecords;
  deleted: string[];
  hooks: (method: string) => { hooks: IntentHooks; uuid: string };
}

function setup(answer: (label: string, n: number) => Answer | undefined = () => undefined, deadlineMs = 0): Setup {
  const captured = conductorCalls();
  const rpc = new ScriptedRpc((label, _req, n) => answer(label, n) ?? (label.startsWith('InstanceActionEvent') ? { result: null } : capturedAnswer(captured, label)));
  const conductor = new ConductorClient(rpc, { topic: 'conductor', timeoutMs: 1000, pingTimeoutMs: 1000 }, log);
  const deleted: string[] = [];
  const records = new NovaRecords({
    conductor, scheduler: new SchedulerClient(rpc, transport, HOST), host: HOST, node: () => HOST, deadlineMs, log,
    allocations: { deleteConsumerAllocations: async (uuid) => { deleted.push(uuid); return 'deleted'; } },
    stopped: () => false, resourcesChanged: () => undefined,
  });
  const hooks = (method: string) => {
    const req = receivedRequest(method);
    const uuid = String(((req.args as Record<string, unknown>).instance as Record<string, Record<string, unknown>>)['nova_object.data']?.uuid);
    const intent: Intent = validateIntent('instance.get_state', '1.0', { instance_uuid: uuid });
    const [h] = records.forNovaRequest(req, [intent]);
    if (!h) throw new Error(`no hooks for ${method}`);
    return { hooks: h, uuid };
  };
  return { rpc, records, deleted, hooks };
}

/** The guards of each Instance.save nova-compute sent in a captured group, in order. */
function capturedGuards(group: string): unknown[] {
  return groupCalls(conductorCalls(), group)
    .filter((c) => c.label === 'Instance.save')
    .map((c) => (c.msg.args.kwargs as Record<string, unknown>).expected_task_state);
}

describe('Nova compute host: instance records as nova-compute writes them', () => {
  it('build: the action event, a first save guarded by [scheduling, None], a last one guarded by spawning, the scheduler told', async () => {
    const { rpc, hooks } = setup();
    const { hooks: h, uuid } = hooks('build_and_run_instance');
    await h.before?.();
    await h.succeeded?.(facts(uuid, 'running'));
    const saves = rpc.objectActions('Instance.save');
    const guards = capturedGuards('boot').filter((g) => g !== undefined);
    expect(saves.map((s) => s.kwargs.expected_task_state)).to.deep.equal([guards[0], guards[guards.length - 1]]);
    expect(saves[0]?.data).to.include({ vm_state: 'building', task_state: 'spawning', host: HOST, node: HOST, launched_on: HOST });
    expect(saves[1]?.changes).to.deep.equal(['launched_at', 'power_state', 'task_state', 'vm_state']);
    expect(saves[1]?.data).to.include({ power_state: 1, vm_state: 'active', task_state: null });
    expect(saves[1]?.data.launched_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const events = rpc.calls.filter((c) => c.label.startsWith('InstanceActionEvent'));
    const capturedEvents = groupCalls(conductorCalls(), 'boot').filter((c) => c.label.startsWith('InstanceActionEvent'));
    expect(events.map((e) => [e.label, e.req.args.args])).to.deep.equal(capturedEvents.map((e) => [e.label, e.msg.args.args]));
    expect(events[1]?.req.args.kwargs).to.deep.equal({ exc_val: null, exc_tb: null, want_result: false });
    // Calls carry the request's own context: its request_id ties the events to the API's action.
    expect(events[0]?.req.context?.request_id).to.equal(receivedRequest('build_and_run_instance').context.request_id);
    await new Promise((r) => setImmediate(r));
    expect(rpc.casts.map((c) => [c.target, c.req.method, c.req.version])).to.deep.equal([[{ topic: 'scheduler', fanout: true }, 'update_instance_info', '4.2']]);
  });

  for (const [method, group, vmState, power] of [
    ['stop_instance', 'stop', 'stopped', 'shutdown'],
    ['start_instance', 'start', 'active', 'running'],
  ] as const) {
    it(`${method}: one save with nova-compute's guard and settled state, then the action event's start and finish`, async () => {
      const { rpc, hooks } = setup();
      const { hooks: h, uuid } = hooks(method);
      await h.before?.();
      await h.succeeded?.(facts(uuid, power));
      const saves = rpc.objectActions('Instance.save');
      expect(saves.map((s) => s.kwargs.expected_task_state)).to.deep.equal(capturedGuards(group));
      expect(saves[0]?.data).to.include({ vm_state: vmState, task_state: null, power_state: power === 'running' ? 1 : 4 });
      expect(rpc.labels()).to.deep.equal(['Instance.save', 'InstanceActionEvent.event_start', 'InstanceActionEvent.event_finish_with_failure']);
    });
  }

  it('delete: deleted state and terminated_at, the allocation removed, the scheduler told, the row destroyed, then the event finished', async () => {
    const { rpc, hooks, deleted } = setup();
    const { hooks: h, uuid } = hooks('terminate_instance');
    await h.before?.();
    await h.succeeded?.(undefined);
    const saves = rpc.objectActions('Instance.save');
    expect(saves).to.have.length(1);
    expect(saves[0]?.data).to.include({ vm_state: 'deleted', task_state: null, power_state: 0 });
    expect(saves[0]?.kwargs).to.deep.equal({});
    expect(deleted).to.deep.equal([uuid]);
    const order = rpc.labels().filter((l) => l !== 'InstanceActionEvent.event_start');
    expect(order).to.deep.equal(['Instance.save', 'Instance.destroy', 'InstanceActionEvent.event_finish_with_failure']);
    expect(rpc.casts.map((c) => c.req.method)).to.deep.equal(['delete_instance_info']);
  });

  it('a failed stop reverts the task state, records a fault and finishes the event with the error', async () => {
    const { rpc, hooks } = setup();
    const { hooks: h, uuid } = hooks('stop_instance');
    await h.before?.();
    const error: ErrorInfo = errorInfo(new IntentFailure('LIBVIRT_ERROR', 'libvirt said no'));
    await h.failed?.(error, facts(uuid, 'running'));
    const [revert] = rpc.objectActions('Instance.save');
    expect(revert?.changes).to.deep.equal(['task_state']);
    expect(revert?.kwargs).to.deep.equal({});
    const [fault] = rpc.objectActions('InstanceFault.create');
    expect(fault?.data).to.include({ instance_uuid: uuid, code: 500, host: HOST, message: 'libvirt said no' });
    const finish = rpc.calls.find((c) => c.label === 'InstanceActionEvent.event_finish_with_failure');
    expect(finish?.req.args.kwargs).to.include({ exc_val: 'libvirt said no', want_result: false });
    expect(String((finish?.req.args.kwargs as Record<string, unknown> | undefined)?.exc_tb)).to.include('LIBVIRT_ERROR');
  });

  it('a save Nova refuses as unexpected fails the intent as UNEXPECTED_TASK_STATE and leaves the task state to Nova', async () => {
    const refused = JSON.stringify({ class: 'UnexpectedTaskStateError', module: 'nova.exception', message: 'Unexpected task state: expecting [\'powering-off\'] but the actual state is deleting', tb: [], args: [], kwargs: { code: 409 } });
    const { rpc, hooks } = setup((label) => (label === 'Instance.save' ? { failure: refused } : undefined));
    const { hooks: h, uuid } = hooks('stop_instance');
    await h.before?.();
    let thrown: unknown;
    await h.succeeded?.(facts(uuid, 'shutdown')).catch((e: unknown) => {
      thrown = e;
    });
    expect(thrown).to.be.instanceOf(IntentFailure);
    const err = errorInfo(thrown as IntentFailure);
    expect(err.code).to.equal('UNEXPECTED_TASK_STATE');
    rpc.calls.length = 0;
    await h.failed?.(err, facts(uuid, 'shutdown'));
    expect(rpc.labels()).to.not.include('Instance.save');
    expect(rpc.labels()).to.include('InstanceFault.create');
  });

  it('a save whose reply was lost is tried again, and counts as done when Nova already holds its values', async () => {
    const refused = JSON.stringify({ class: 'UnexpectedTaskStateError', module: 'nova.exception', message: 'actual state is None', tb: [], args: [], kwargs: {} });
    const stopped = { ...(receivedRequest('stop_instance').args as Record<string, Record<string, unknown>>).instance };
    stopped['nova_object.data'] = { ...(stopped['nova_object.data'] as Record<string, unknown>), vm_state: 'stopped', task_state: null, power_state: 4 };
    const { rpc, hooks } = setup((label, n) => {
      if (label === 'Instance.save') return n === 1 ? { error: new TransportError('MessagingTimeout: no reply', { timeout: true }) } : { failure: refused };
      if (label === 'Instance.get_by_uuid') return { result: stopped };
      return undefined;
    }, 5_000);
    const { hooks: h, uuid } = hooks('stop_instance');
    await h.before?.();
    await h.succeeded?.(facts(uuid, 'shutdown'));
    expect(rpc.labels().filter((l) => l.startsWith('Instance.'))).to.deep.equal(['Instance.save', 'Instance.save', 'Instance.get_by_uuid']);
  });

  it('a refused build goes to ERROR with its fault and loses its allocation; a refused call is left to its caller', async () => {
    const { rpc, records, deleted } = setup();
    const req = receivedRequest('build_and_run_instance');
    const uuid = String(((req.args as Record<string, unknown>).instance as Record<string, Record<string, unknown>>)['nova_object.data']?.uuid);
    await records.novaRefused(req, errorInfo(new IntentFailure('NOT_SUPPORTED', 'network net-1 is requested without a port')));
    const [save] = rpc.objectActions('Instance.save');
    expect(save?.data).to.include({ vm_state: 'error', task_state: null, host: null, node: null });
    expect(rpc.objectActions('InstanceFault.create')[0]?.data).to.include({ code: 400, message: 'network net-1 is requested without a port' });
    expect(deleted).to.deep.equal([uuid]);
    rpc.calls.length = 0;
    await records.novaRefused({ ...req, call: { msgId: 'm', replyQueue: 'reply_x', timeoutS: null } }, errorInfo(new IntentFailure('NOT_SUPPORTED', 'x')));
    expect(rpc.calls).to.have.length(0);
  });
});
