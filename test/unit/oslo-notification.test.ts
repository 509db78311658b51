import { expect } from 'chai';
import { decodeOsloBody } from '../../src/oslo/envelope';
import {
  buildNotification, notificationMessages, notificationRoutingKey, osloTimestamp, parseOsloTimestamp, priorityField,
  sanitizeNotificationContext,
} from '../../src/oslo/notification';

/** A messagingv2 notification captured from a real oslo.messaging 14.0.3 notifier (docs/oslo-wire.md#notifications). */
const CAPTURED =
  '{"oslo.version": "2.0", "oslo.message": "{\\"message_id\\": \\"2cff1428-3104-4252-8ab9-0b8ef52fdcc3\\", \\"publisher_id\\": \\"compute.host1\\", ' +
  '\\"event_type\\": \\"compute.instance.create.end\\", \\"priority\\": \\"INFO\\", \\"payload\\": {\\"instance_id\\": \\"abc\\"}, ' +
  '\\"timestamp\\": \\"2026-11-25 07:22:56.387873\\", \\"_unique_id\\": \\"643c2cee057c4637abae5db3c979edb9\\", ' +
  '\\"_context_user_id\\": \\"u-123\\", \\"_context_project_id\\": \\"p-456\\", \\"_context_request_id\\": \\"req-aaaa\\"}"}';

describe('oslo notification', () => {
  it('formats timestamps like str(datetime): microseconds, omitted when zero', () => {
    expect(osloTimestamp(new Date(Date.UTC(2026, 10, 25, 7, 22, 56, 387)))).to.equal('2026-11-25 07:22:56.387000');
    expect(osloTimestamp(new Date(Date.UTC(2026, 10, 25, 7, 22, 56, 387)), 873)).to.equal('2026-11-25 07:22:56.387873');
    expect(osloTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 0)))).to.equal('2026-01-02 03:04:05');
    expect(osloTimestamp(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), 7)).to.equal('2026-01-02 03:04:05.000007');
  });

  it('parses both timestamp forms as UTC', () => {
    expect(parseOsloTimestamp('2026-11-25 07:22:56.387873')?.toISOString()).to.equal('2026-11-25T07:22:56.387Z');
    expect(parseOsloTimestamp('2026-01-02 03:04:05')?.toISOString()).to.equal('2026-01-02T03:04:05.000Z');
    expect(parseOsloTimestamp('yesterday')).to.equal(undefined);
  });

  it('upper-cases priorities (warning → WARN) and lower-cases them in the routing key', () => {
    expect(priorityField('info')).to.equal('INFO');
    expect(priorityField('warning')).to.equal('WARN');
    expect(notificationRoutingKey('versioned_notifications', 'error')).to.equal('versioned_notifications.error');
    expect(notificationRoutingKey('notifications', 'warning')).to.equal('notifications.warn');
  });

  it('keeps only the notifier allow-list of context keys: no token, no password', () => {
    const safe = sanitizeNotificationContext({
      user_id: 'u', project_id: 'p', request_id: 'r', global_request_id: 'g', roles: ['a'], is_admin: true,
      auth_token: 'SECRET', password: 'hunter2', service_catalog: [], issuer: 'nova',
    });
    expect(safe).to.deep.equal({ user_id: 'u', project_id: 'p', request_id: 'r', global_request_id: 'g', roles: ['a'], is_admin: true });
  });

  it('builds the message with the captured field order and formats', () => {
    const captured = decodeOsloBody(Buffer.from(CAPTURED), 'application/json');
    const ours = buildNotification({
      publisherId: 'nova-compute:h1', eventType: 'instance.power_off.start', priority: 'info', payload: { a: 1 },
      context: { user_id: 'u-123', project_id: 'p-456', request_id: 'req-aaaa', auth_token: 'SECRET' },
      at: new Date(Date.UTC(2026, 10, 25, 7, 22, 56, 387)),
    });
    expect(Object.keys(ours)).to.deep.equal(Object.keys(captured));
    expect(ours.message_id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ours._unique_id).to.match(/^[0-9a-f]{32}$/);
    expect(ours).to.deep.include({ priority: 'INFO', timestamp: '2026-11-25 07:22:56.387000', payload: { a: 1 } });
    expect(JSON.stringify(ours)).not.to.contain('SECRET');
  });

  it('publishes one message per topic with a shared message_id and distinct _unique_id', () => {
    const out = notificationMessages(
      { exchange: 'nova', topics: ['notifications', 'versioned_notifications'] },
      { publisherId: 'nova-compute:h1', eventType: 'instance.create.error', priority: 'error', payload: null },
    );
    expect(out.map((m) => m.routingKey)).to.deep.equal(['notifications.error', 'versioned_notifications.error']);
    const [a, b] = out.map((m) => decodeOsloBody(m.body, m.contentType, m.contentEncoding));
    expect(a?.message_id).to.equal(b?.message_id);
    expect(a?._unique_id).to.not.equal(b?._unique_id);
    expect(a?.timestamp).to.equal(b?.timestamp);
    expect(out[0]).to.include({ exchange: 'nova', contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(out[0]?.expirationMs).to.equal(undefined);
  });

  it('publishes on every topic the message buildNotification builds, key order included', () => {
    const input = {
      publisherId: 'nova-compute:h1', eventType: 'instance.power_off.start', priority: 'info' as const, payload: { 'nova_object.data': { s: 'é' } },
      context: { user_id: 'u', auth_token: 'SECRET', request_id: 'r', roles: ['a'] }, messageId: 'm-1', at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    };
    const built = buildNotification(input);
    const out = notificationMessages({ exchange: 'nova', topics: ['a', 'b'] }, input);
    for (const m of out) {
      const sent = decodeOsloBody(m.body, m.contentType, m.contentEncoding);
      expect(Object.keys(sent)).to.deep.equal(Object.keys(built));
      expect({ ...sent, _unique_id: built._unique_id }).to.deep.equal(built);
      expect(m.body.toString('utf8')).to.contain('\\\\u00e9').and.not.contain('SECRET');
    }
  });

  it('writes the v1 (messaging driver) format without envelope on request', () => {
    const [m] = notificationMessages({ exchange: 'nova', topics: ['notifications'], format: 'v1' }, {
      publisherId: 'p', eventType: 'e', priority: 'sample', payload: 1,
    });
    const body = JSON.parse(m?.body.toString() ?? '{}') as Record<string, unknown>;
    expect(body.priority).to.equal('SAMPLE');
    expect(body).not.to.have.property('oslo.version');
  });
});
