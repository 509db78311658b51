/**
 * The dispatcher's contract with the broker, without a broker: fake ports
 * (dispatch/ports.ts: the wire codec and the event sink) in memory, a fake
 * driver, the real store, ledger and serializer. What matters is the
 * settlement each message gets, and that nothing is acked before what it
 * caused is confirmed.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { Dispatcher } from '../../src/dispatch/dispatcher';
import { InstanceBook } from '../../src/host-state/instance-book';
import { OutcomeLedger } from '../../src/dispatch/ledger';
import type { ErrorInfo, FinalOutcome } from '../../src/dispatch/outcome';
import { PortReadiness } from '../../src/host-state/port-readiness';
import type { EventSink, Wire, WireRequest } from '../../src/dispatch/ports';
import type { Driver, GuestState } from '../../src/drivers/driver';
import { IntentFailure, RejectedError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { IssuerPolicy } from '../../src/policy/issuer-policy';
import { Serializer } from '../../src/serializer/serializer';
import { IntentStore } from '../../src/store/intent-store';
import type { InboundMessage } from '../../src/transport/transport';

const A = '8f0e5c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
const B = '8f0e5c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5c';

/** A promise and its resolver, to hold a port's answer until the test lets it go. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open: (v: T) => void = () => undefined;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** The wire as JSON: the body is the WireRequest itself; anything else is NOT_JSON. */
class FakeWire implements Wire {
  readonly deadLetters: { body: string; code: string; deliveries: number | undefined }[] = [];
  readonly replies: { msgId: string; body: { result: unknown } | { error: ErrorInfo } }[] = [];
  deadLetterFails = false;
  decode(msg: InboundMessage): WireRequest {
    try {
      return JSON.parse(msg.body.toString('utf8')) as WireRequest;
    } catch {
      throw new RejectedError('NOT_JSON', 'not JSON');
    }
  }
  async reply(call: NonNullable<WireRequest['call']>, body: { result: unknown } | { error: ErrorInfo }): Promise<void> {
    this.replies.push({ msgId: call.msgId, body });
  }
  async heartbeat(): Promise<void> {}
  heartbeatEveryMs(): number | undefined {
    return undefined;
  }
  async deadLetter(msg: InboundMessage, err: RejectedError, o?: { deliveries?: number }): Promise<void> {
    if (this.deadLetterFails) throw new Error('dead-letter queue refused the message');
    this.deadLetters.push({ body: msg.body.toString('utf8'), code: err.code, deliveries: o?.deliveries });
  }
}

/** Events as a list; `outcomeGate`, when set, holds every outcome's confirm. */
class FakeEvents implements EventSink {
  readonly seen: string[] = [];
  outcomeGate: Promise<void> | undefined;
  async accepted(kind: string): Promise<void> {
    this.seen.push(`accepted ${kind}`);
  }
  async novaPhase(): Promise<void> {}
  async instanceState(): Promise<void> {}
  async outcome(o: FinalOutcome, _req: unknown, flags: { redelivered?: boolean; replayed?: boolean }): Promise<void> {
    this.seen.push(`outcome ${o.kind} ${o.status}${flags.redelivered ? ' redelivered' : ''}`);
    await this.outcomeGate;
  }
  async rejected(err: RejectedError): Promise<void> {
    this.seen.push(`rejected ${err.code}`);
  }
}

/** A driver that pauses guests A and B; `pauseGate`, when set, holds each pause. */
function fakeDriver(): Driver & { paused: string[]; pauseGate: Promise<void> | undefined } {
  const no = () => Promise.reject(new IntentFailure('NOT_SUPPORTED', 'not in this fake'));
  const state = (uuid: string, power_state: GuestState['power_state']): GuestState => ({ instance_uuid: uuid, name: `g-${uuid.slice(-1)}`, power_state });
  const d = {
    name: 'fake', paused: [] as string[], pauseGate: undefined as Promise<void> | undefined,
    getState: (uuid: string) => Promise.resolve(state(uuid, 'running')),
    pause: async (uuid: string) => {
      d.paused.push(uuid);
      await d.pauseGate;
      return state(uuid, 'paused');
    },
    spawn: no, destroy: no, powerOn: no, powerOff: no, reboot: no, unpause: no, suspend: no, resume: no, attachVolume: no,
    detachVolume: no, plugPort: no, unplugPort: no, listGuests: () => Promise.resolve([]), inventory: no, close: () => Promise.resolve(),
  };
  return d;
}

function delivery(body: unknown, o: { redelivered?: boolean } = {}): InboundMessage {
  return {
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), contentType: 'application/json', contentEncoding: undefined,
    exchange: 'nova', routingKey: 'compute.h1', queue: 'compute.h1', headers: {}, userId: undefined, redelivered: o.redelivered === true,
  };
}

const pause = (uuid: string, id: string, call?: WireRequest['call']): WireRequest => ({
  method: 'instance.pause', namespace: 'hostwall', version: '1.0', args: { instance_uuid: uuid }, uniqueId: id, context: { issuer: 'nova' }, call,
});

describe('dispatcher through its ports (the ack contract without a broker)', () => {
  let store: IntentStore;
  let wire: FakeWire;
  let events: FakeEvents;
  let driver: ReturnType<typeof fakeDriver>;
  let dispatcher: Dispatcher;

  beforeEach(() => {
    const log = createLogger({ level: 'error', format: 'json', stream: new PassThrough() });
    store = IntentStore.open({ path: ':memory:', runId: 'r', retentionMs: 60_000 });
    wire = new FakeWire();
    events = new FakeEvents();
    driver = fakeDriver();
    dispatcher = new Dispatcher({
      wire, events, log,
      serializer: new Serializer({ concurrency: 1 }),
      book: new InstanceBook('h1'),
      ledger: new OutcomeLedger(store, 100, log),
      policy: new IssuerPolicy({ mode: 'open', users: {}, keys: {}, signatureWindowMs: 300_000 }),
      poisonDeliveries: 3,
      exec: { driver, ports: new PortReadiness({ memoryMs: 1000 }), connector: () => Promise.reject(new Error('unused')), vifPluggingTimeoutMs: 1000, vifPluggingIsFatal: false, log },
    });
  });
  afterEach(() => store.close());

  it("a valid intent is applied once and answered 'ack' only after its outcome event is confirmed", async () => {
    const confirm = gate();
    events.outcomeGate = confirm.promise;
    let answered: string | undefined;
    const answer = dispatcher.onMessage(delivery(pause(A, 'i1'))).then((how) => {
      answered = how;
      return how;
    });
    while (!events.seen.includes('outcome instance.pause succeeded')) await new Promise((r) => setImmediate(r));
    expect(answered, 'not acked before the outcome is confirmed').to.equal(undefined);
    confirm.open();
    expect(await answer).to.equal('ack');
    expect(driver.paused).to.deep.equal([A]);
    expect(wire.deadLetters).to.have.length(0);
  });

  it("a call is replied to with its outcome before the 'ack'", async () => {
    const call = { msgId: 'm1', replyQueue: 'reply_1', timeoutS: 60 };
    expect(await dispatcher.onMessage(delivery(pause(A, 'i2', call)))).to.equal('ack');
    expect(wire.replies).to.have.length(1);
    expect(wire.replies[0]?.msgId).to.equal('m1');
    expect(wire.replies[0]?.body).to.have.property('result');
  });

  it("an invalid intent is dead-lettered with its reason (INVALID_INTENT), announced, and answered 'ack'; the host is not touched", async () => {
    const bad = { ...pause(A, 'i3'), args: { instance_uuid: 'not-a-uuid' } };
    expect(await dispatcher.onMessage(delivery(bad))).to.equal('ack');
    expect(wire.deadLetters.map((d) => d.code)).to.deep.equal(['INVALID_INTENT']);
    expect(events.seen).to.include('rejected INVALID_INTENT');
    expect(driver.paused).to.have.length(0);
  });

  it("a message that is not JSON is dead-lettered (NOT_JSON) and answered 'ack'", async () => {
    expect(await dispatcher.onMessage(delivery('{not json'))).to.equal('ack');
    expect(wire.deadLetters.map((d) => d.code)).to.deep.equal(['NOT_JSON']);
  });

  it("a duplicate (redelivered after its outcome was recorded) is answered from the record, flagged, and 'ack'ed without applying it again", async () => {
    expect(await dispatcher.onMessage(delivery(pause(A, 'i4')))).to.equal('ack');
    expect(await dispatcher.onMessage(delivery(pause(A, 'i4'), { redelivered: true }))).to.equal('ack');
    expect(driver.paused).to.deep.equal([A]);
    expect(events.seen.filter((e) => e.startsWith('outcome'))).to.deep.equal(['outcome instance.pause succeeded', 'outcome instance.pause succeeded redelivered']);
  });

  it("a message redelivered past the poison limit without finishing is dead-lettered as POISON and 'ack'ed, not run", async () => {
    const answers: string[] = [];
    const poison = delivery(pause(B, 'i5'), { redelivered: true });
    // Two earlier redeliveries counted (it never finished: the worker died on it, say); this one is the fourth, past the limit of 3.
    const fingerprint = createHash('sha256').update(poison.body).digest('hex');
    store.countDelivery(fingerprint);
    store.countDelivery(fingerprint);
    answers.push(await dispatcher.onMessage(poison));
    expect(answers).to.deep.equal(['ack']);
    expect(wire.deadLetters.map((d) => d.code)).to.deep.equal(['POISON']);
    expect(wire.deadLetters[0]?.deliveries).to.equal(4);
    expect(driver.paused).to.have.length(0);
  });

  it("shutdown mid-flight: the running intent finishes and is 'ack'ed; one not started yet is 'leave' (redelivered to the next worker)", async () => {
    const hold = gate();
    driver.pauseGate = hold.promise;
    const first = dispatcher.onMessage(delivery(pause(A, 'i6')));
    while (driver.paused.length === 0) await new Promise((r) => setImmediate(r));
    // Concurrency 1: the second waits for a slot.
    const second = dispatcher.onMessage(delivery(pause(B, 'i7')));
    dispatcher.beginDrain();
    hold.open();
    expect(await first).to.equal('ack');
    expect(await second).to.equal('leave');
    expect(driver.paused).to.deep.equal([A]);
  });

  it("a refusal whose dead letter cannot be sent is answered 'requeue' (it comes back, counted toward POISON)", async () => {
    wire.deadLetterFails = true;
    expect(await dispatcher.onMessage(delivery('{not json'))).to.equal('requeue');
  });
});
