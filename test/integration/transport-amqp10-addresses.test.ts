/**
 * The AMQP 1.0 transport's pure parts, no broker needed: address strings per
 * broker family, URL → connection options, transport selection by scheme or
 * setting, and the message mapping both ways.
 */
import { expect } from 'chai';
import rhea = require('rhea');
import { ConfigError, TransportError } from '../../src/errors';
import { Amqp091Transport } from '../../src/transport/amqp091';
import { addressBook, Amqp10Transport, adminUrlOf, applicationProperties, bodyBytes, encodeSegment, inboundFields, outboundMessage } from '../../src/transport/amqp10';
import { compileOptions } from '../../src/transport/amqp10/options';
import { createTransport, createTransportFor, protocolOf } from '../../src/transport/select';

const refusal = (fn: () => unknown): TransportError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof TransportError) return err;
    throw err;
  }
  throw new Error('expected a TransportError');
};

describe('amqp10 addresses', () => {
  it('rabbitmq3: exchange targets carry the key in the address; replies go to /queue with the queue as subject; sources are /amq/queue', () => {
    const b = addressBook('rabbitmq3');
    expect(b.target('nova', 'compute.h1')).to.deep.equal({ link: '/exchange/nova/compute.h1', subject: 'compute.h1' });
    expect(b.target('', 'reply_abc')).to.deep.equal({ link: '/queue', subject: 'reply_abc' });
    expect(b.target('amq.default', 'reply_abc')).to.deep.equal({ link: '/queue', subject: 'reply_abc' });
    expect(b.source('compute.h1')).to.equal('/amq/queue/compute.h1');
    expect(b.releasedMeansUnroutable).to.equal(false);
  });

  it('rabbitmq3: refuses an empty routing key (poison bug) and "/" in names', () => {
    const b = addressBook('rabbitmq3');
    expect(refusal(() => b.target('compute_fanout', '')).message).to.contain('empty routing key');
    expect(refusal(() => b.target('', '')).details).to.include({ outcome: 'not_sent' });
    expect(refusal(() => b.target('x', 'a/b')).message).to.contain('"/"');
    expect(() => b.source('a/b')).to.throw(TransportError);
  });

  it('rabbitmq4: one anonymous link, v2 `to` addresses, percent-encoded; released means unroutable', () => {
    const b = addressBook('rabbitmq4');
    expect(b.target('nova', 'compute.h1')).to.deep.equal({ link: null, to: '/exchanges/nova/compute.h1', subject: 'compute.h1' });
    expect(b.target('amq.direct', 'my-routing_key/123')).to.deep.include({ to: '/exchanges/amq.direct/my-routing_key%2F123' });
    expect(b.target('compute_fanout', '')).to.deep.include({ to: '/exchanges/compute_fanout' });
    expect(b.target('', 'reply_1')).to.deep.include({ link: null, to: '/queues/reply_1' });
    expect(b.source('a b')).to.equal('/queues/a%20b');
    expect(b.releasedMeansUnroutable).to.equal(true);
    expect(encodeSegment("it's(*)!")).to.equal('it%27s%28%2A%29%21');
  });

  it('generic: the operator templates, with defaults', () => {
    const d = addressBook('generic');
    expect(d.target('nova', 'compute.h1')).to.deep.equal({ link: 'nova/compute.h1', subject: 'compute.h1' });
    expect(d.target('', 'reply_1')).to.deep.equal({ link: 'reply_1', subject: 'reply_1' });
    expect(d.source('compute.h1')).to.equal('compute.h1');
    const t = addressBook('generic', { exchange: 'topic://{exchange}.{routingKey}', queue: 'queue://{queue}', source: 'queue://{queue}' });
    expect(t.target('nova', 'compute.h1').link).to.equal('topic://nova.compute.h1');
    expect(t.target('', 'r').link).to.equal('queue://r');
    expect(t.source('q')).to.equal('queue://q');
  });

  it('refuses an unknown template placeholder when the transport is built', () => {
    expect(() => new Amqp10Transport({ url: 'amqp10://h', addresses: 'generic', templates: { exchange: '{exchnage}/{routingKey}' } })).to.throw(ConfigError, /exchnage/);
  });
});

describe('amqp10 options', () => {
  it('puts the vhost in the open hostname as RabbitMQ wants it (vhost:<name>), default "/"', () => {
    expect(compileOptions({ url: 'amqp10://u:p@h:5672' }).hosts[0]?.connect.hostname).to.equal('vhost:/');
    expect(compileOptions({ url: 'amqp10://u:p@h:5672/' }).hosts[0]?.connect.hostname).to.equal('vhost:/');
    expect(compileOptions({ url: 'amqp10://u:p@h:5672/%2F' }).hosts[0]?.connect.hostname).to.equal('vhost:/');
    expect(compileOptions({ url: 'amqp10://u:p@h:5672/tenant-1' }).hosts[0]?.connect).to.deep.include({ hostname: 'vhost:tenant-1', host: 'h', port: 5672, username: 'u', password: 'p', transport: 'tcp', reconnect: false });
  });

  it('uses TLS on amqps10:// (port 5671 by default), hides the password, and derives the 0-9-1 topology URL', () => {
    const o = compileOptions({ url: 'amqps10://u:s3cret@broker.example/v', tls: { ca: 'PEM' } });
    expect(o.hosts[0]?.connect).to.deep.include({ transport: 'tls', port: 5671, servername: 'broker.example', ca: 'PEM' });
    expect(o.safeUrl).to.not.contain('s3cret');
    expect(o.adminUrl).to.equal('amqps://u:s3cret@broker.example/v');
    expect(adminUrlOf('amqp10://u:p@h:5672/v')).to.equal('amqp://u:p@h:5672/v');
    expect(compileOptions({ url: 'amqp10://h', addresses: 'generic' }).adminUrl).to.equal(undefined);
    expect(compileOptions({ url: 'amqp10://h', adminUrl: false }).adminUrl).to.equal(undefined);
    expect(compileOptions({ url: 'amqp10://h', heartbeatS: 0 }).hosts[0]?.connect).to.not.have.property('idle_time_out');
    expect(compileOptions({ url: 'amqp10://h' }).hosts[0]?.connect).to.include({ idle_time_out: 60_000 });
  });

  it('refuses bad options with a one-line ConfigError', () => {
    expect(() => compileOptions({ url: 'http://x' })).to.throw(ConfigError, /URL/);
    expect(() => compileOptions({ url: 'amqp10://x', tls: { ca: 'pem' } })).to.throw(ConfigError, /amqps10/);
  });
});

describe('transport selection', () => {
  it('picks the protocol from the URL scheme, or from the setting', () => {
    expect(protocolOf('amqp://h')).to.equal('amqp091');
    expect(protocolOf('amqps://h')).to.equal('amqp091');
    expect(protocolOf('amqp10://h')).to.equal('amqp10');
    expect(protocolOf('amqps10://h')).to.equal('amqp10');
    expect(protocolOf('amqp://h', 'amqp10')).to.equal('amqp10');
    expect(protocolOf('amqp10://h', 'amqp10')).to.equal('amqp10');
    expect(() => protocolOf('amqp10://h', 'amqp091')).to.throw(ConfigError);
    expect(() => protocolOf('http://h')).to.throw(ConfigError);
  });

  it('builds the matching transport behind the one interface', () => {
    expect(createTransport('amqp://h')).to.be.instanceOf(Amqp091Transport);
    expect(createTransport('amqp10://h')).to.be.instanceOf(Amqp10Transport);
    const forced = createTransport('amqp://h', { protocol: 'amqp10', amqp10Addresses: 'rabbitmq4' });
    expect(forced).to.be.instanceOf(Amqp10Transport);
    expect((forced as Amqp10Transport).addressFamily).to.equal('rabbitmq4');
  });

  it('builds it from the settings (the compiled Config), "" meaning default', () => {
    expect(createTransportFor({ amqpUrl: 'amqp://h', transport: 'auto', amqp10AdminUrl: '' })).to.be.instanceOf(Amqp091Transport);
    const t = createTransportFor({ amqpUrl: 'amqp://h', transport: 'amqp10', amqp10Addresses: 'generic', amqp10TargetTemplate: '{exchange}.{routingKey}', amqp10SourceTemplate: '' });
    expect(t).to.be.instanceOf(Amqp10Transport);
    expect((t as Amqp10Transport).addressFamily).to.equal('generic');
    expect(() => createTransportFor({ amqpUrl: 'amqp10://h', transport: 'amqp091' })).to.throw(ConfigError);
  });
});

describe('amqp10 message mapping', () => {
  it("maps an outbound message to one data section with oslo's properties", () => {
    const m = outboundMessage(
      { exchange: 'nova', routingKey: 'compute.h1', body: Buffer.from('{}'), contentType: 'application/json', expirationMs: 60000.4, headers: { a: 'b', n: 1, t: { nested: true }, u: undefined } },
      { link: null, to: '/exchanges/nova/compute.h1', subject: 'compute.h1' },
    );
    expect(m).to.deep.include({ content_type: 'application/json', content_encoding: 'utf-8', durable: true, priority: 0, ttl: 60000, subject: 'compute.h1', to: '/exchanges/nova/compute.h1' });
    expect(m.application_properties).to.deep.equal({ a: 'b', n: 1, t: '{"nested":true}' });
    expect(bodyBytes(m.body).toString()).to.equal('{}');
    // Encodes as a data section (0x75), not an amqp-value.
    const decoded = rhea.message.decode(rhea.message.encode(m));
    expect(decoded.body).to.have.property('typecode', 0x75);
    expect(outboundMessage({ exchange: 'x', routingKey: 'k', body: Buffer.from('t'), contentType: 'text/plain' }, { link: '/exchange/x/k', subject: 'k' })).to.not.have.keys('content_encoding', 'ttl', 'to', 'application_properties');
  });

  it('keeps simple application-property values and stringifies the rest', () => {
    expect(applicationProperties({ s: 's', b: true, z: null, big: 10n, inf: Number.POSITIVE_INFINITY, buf: Buffer.from('x') })).to.deep.equal({ s: 's', b: true, z: null, big: '10', inf: 'Infinity', buf: Buffer.from('x') });
  });

  it('maps an inbound message: subject or x-routing-key, x-exchange, user_id, redelivered', () => {
    const base = { body: rhea.message.data_section(Buffer.from('abc')), content_type: 'application/json', content_encoding: 'utf-8', subject: 'k1' };
    expect(inboundFields({ ...base, first_acquirer: true })).to.deep.include({ routingKey: 'k1', exchange: '', redelivered: false, contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(inboundFields({ ...base, first_acquirer: false }).redelivered).to.equal(true);
    expect(inboundFields({ ...base, delivery_count: 2 }).redelivered).to.equal(true);
    expect(inboundFields({ ...base, message_annotations: { 'x-exchange': 'nova', 'x-routing-key': 'compute.h1' } })).to.deep.include({ exchange: 'nova', routingKey: 'compute.h1' });
    // The spec types user_id as binary (rhea's typings say string): check the wire form through the codec.
    const wire = rhea.message.decode(rhea.message.encode({ ...base, user_id: Buffer.from('guest') }));
    expect(inboundFields({ body: wire.body, user_id: wire.user_id }).userId).to.equal('guest');
    expect(inboundFields({ ...base, user_id: 'guest' }).userId).to.equal('guest');
    expect(inboundFields({ ...base, application_properties: { a: 1 } }).headers).to.deep.equal({ a: 1 });
  });

  it('reads every body form as bytes: data sections, amqp-value strings and values', () => {
    expect(bodyBytes(rhea.message.data_sections([Buffer.from('ab'), Buffer.from('cd')])).toString()).to.equal('abcd');
    expect(bodyBytes('héllo').toString('utf8')).to.equal('héllo');
    expect(bodyBytes(Buffer.from('raw')).toString()).to.equal('raw');
    expect(bodyBytes({ a: 1 }).toString()).to.equal('{"a":1}');
    expect(bodyBytes(undefined).length).to.equal(0);
  });
});
