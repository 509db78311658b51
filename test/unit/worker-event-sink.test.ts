/**
 * The event sink publishes again what the broker did not confirm (after a
 * reconnect, in the real transport), so a dropped connection does not lose
 * the first run's notifications; a retried outcome is flagged.
 */
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import type { FinalOutcome } from '../../src/dispatch/outcome';
import { TransportError } from '../../src/errors';
import type { InstanceView, IntentRequest } from '../../src/host-state/instance-view';
import type { Intent } from '../../src/intents';
import { createLogger } from '../../src/log';
import type { OutboundMessage, PublishResult, Transport } from '../../src/transport/transport';
import { BusEventSink } from '../../src/events/bus-event-sink';

const UUID = '8f0e5c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
const log = createLogger({ level: 'error', format: 'json' });

/** Refuses the first `failures` publishes of each routing key, then confirms; records every attempt. */
class FlakyTransport implements Transport {
  readonly attempts: OutboundMessage[] = [];
  private readonly failed = new Map<string, number>();
  constructor(private readonly failures: number) {}
  start = () => Promise.resolve();
  declare = () => Promise.resolve();
  consume = () => Promise.resolve();
  cancelConsumers = () => Promise.resolve();
  inFlight = () => 0;
  drained = () => Promise.resolve();
  close = () => Promise.resolve();
  publish(msg: OutboundMessage): Promise<PublishResult> {
    this.attempts.push(msg);
    const n = this.failed.get(msg.routingKey) ?? 0;
    if (n < this.failures) {
      this.failed.set(msg.routingKey, n + 1);
      return Promise.reject(new TransportError('channel closed before the broker confirmed (connection lost); outcome unknown'));
    }
    return Promise.resolve('confirmed');
  }
}

function sink(transport: Transport, eventRetryS: number): BusEventSink {
  const config = loadConfig({ env: {}, flags: { host: 'h1', eventRetryS: String(eventRetryS) } });
  return new BusEventSink(transport, config, log);
}

const request: IntentRequest = { intent_id: 'i-1', request_id: 'req-1', global_request_id: undefined, user_id: undefined, project_id: undefined, issuer: 'nova' };
const facts: InstanceView = {
  uuid: UUID, name: 'g', host: 'h1', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 }, image_id: undefined, metadata: {},
  power_state: 'shutdown', vm_state: 'stopped', task_state: null, created_at: undefined, launched_at: undefined, terminated_at: undefined, ports: [], volumes: [],
};
const outcome: FinalOutcome = { status: 'succeeded', intentId: 'i-1', kind: 'instance.power_off', result: { ok: true }, instance: facts };
const intent = { kind: 'instance.power_off', version: '1.0', args: { instance_uuid: UUID } } as unknown as Intent;
const body = (m: OutboundMessage) => JSON.parse(m.body.toString('utf8')) as Record<string, unknown>;

describe('worker: the event sink publishes again what was not confirmed', () => {
  it('re-sends a notification as it was, and a retried outcome flagged redelivered', async () => {
    const t = new FlakyTransport(1);
    const s = sink(t, 60);
    await Promise.all([s.novaPhase(intent, 'end', facts, request), s.outcome(outcome, request, {})]);
    const byKey = (k: string) => t.attempts.filter((m) => m.routingKey === k);
    const [first, again] = byKey('versioned_notifications.info');
    expect(first !== undefined && again?.body.equals(first.body), 'the same oslo message, same message_id').to.equal(true);
    const outs = byKey('h1.intent.succeeded').map(body);
    expect(outs).to.have.length(2);
    expect(outs[0]?.redelivered).to.equal(undefined);
    expect(outs[1]?.redelivered).to.equal(true);
  });

  it('keeps a replayed outcome flagged as a replay when it is retried', async () => {
    const t = new FlakyTransport(1);
    await sink(t, 60).outcome(outcome, request, { replayed: true });
    expect(t.attempts.map(body).map((b) => [b.replayed, b.redelivered])).to.deep.equal([[true, undefined], [true, undefined]]);
  });

  it('gives up at once with eventRetryS 0, and when closed while waiting', async () => {
    const none = new FlakyTransport(1);
    const err = await sink(none, 0).outcome(outcome, request, {}).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TransportError);
    expect(none.attempts).to.have.length(1);

    const never = new FlakyTransport(Number.POSITIVE_INFINITY);
    const s = sink(never, 3600);
    const pending = s.outcome(outcome, request, {}).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    s.close();
    expect(await pending).to.be.instanceOf(TransportError);
    expect(never.attempts.length).to.be.within(1, 2);
  });
});
