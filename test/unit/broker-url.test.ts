import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { compileOptions as compile091 } from '../../src/transport/amqp091/options';
import { compileOptions as compile10 } from '../../src/transport/amqp10/options';
import { amqp091UrlOf, fromOsloTransportUrl, parseBrokerUrl, redactUrl } from '../../src/transport/broker-url';
import { describeConnectError } from '../../src/transport/connect-errors';
import { HostFailures, HostRotation } from '../../src/transport/failover';
import { transportTls } from '../../src/worker/tls';

const configError = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('broker URL', () => {
  it('gives each host its own credentials; a 0-9-1 host without them uses guest, as kombu does; 1.0 connects without', () => {
    const b = parseBrokerUrl('rabbit://u1:p1@h1:5673,h2/vh');
    expect(b).to.deep.include({ scheme: 'rabbit', protocol: 'amqp091', tls: false, vhost: 'vh', failover: 'round-robin' });
    expect(b.hosts).to.deep.equal([
      { hostname: 'h1', port: 5673, username: 'u1', password: 'p1', address: 'h1:5673' },
      { hostname: 'h2', port: 5672, username: 'guest', password: 'guest', address: 'h2:5672' },
    ]);
    expect(b.warnings.join()).to.contain('h2').and.contain('guest');
    expect(parseBrokerUrl('amqp10://u:p@h1,h2/').hosts[1]).to.deep.equal({ hostname: 'h2', port: 5672, address: 'h2:5672' });
  });

  it('defaults: no host is localhost, no vhost is "/", TLS schemes use port 5671, rabbit:// with ssl=true keeps 5672 as oslo does', () => {
    expect(parseBrokerUrl('rabbit:///').hosts[0]).to.include({ hostname: 'localhost', port: 5672 });
    for (const u of ['rabbit://h', 'rabbit://h/', 'rabbit://h//', 'rabbit://h/%2F']) expect(parseBrokerUrl(u).vhost, u).to.equal('/');
    expect(parseBrokerUrl('amqps://u:p@h')).to.deep.include({ tls: true, protocol: 'amqp091' });
    expect(parseBrokerUrl('amqps://u:p@h').hosts[0]?.port).to.equal(5671);
    expect(parseBrokerUrl('amqps10://u:p@h').hosts[0]).to.include({ port: 5671 });
    expect(parseBrokerUrl('amqps10://u:p@h').protocol).to.equal('amqp10');
    const ssl = parseBrokerUrl('rabbit://u:p@h/?ssl=true');
    expect(ssl.tls).to.equal(true);
    expect(ssl.hosts[0]?.port).to.equal(5672);
    expect(parseBrokerUrl('rabbit://u:p@[::1]:5673/').hosts[0]).to.include({ hostname: '::1', address: '[::1]:5673' });
  });

  it('takes the connection options oslo puts in the query, and ignores the others with a warning', () => {
    const b = parseBrokerUrl('rabbit://h/?heartbeat_timeout_threshold=30&kombu_failover_strategy=shuffle&ssl=yes&ssl_ca_file=/ca.pem&rabbit_qos_prefetch_count=5');
    expect(b).to.deep.include({ heartbeatS: 30, failover: 'shuffle', tls: true, tlsFiles: { ca: '/ca.pem' } });
    expect(b.warnings).to.have.length(1);
    expect(b.warnings[0]).to.contain('rabbit_qos_prefetch_count');
    expect(parseBrokerUrl('amqp10://h/?idle_timeout=15').heartbeatS).to.equal(15);
    expect(parseBrokerUrl('amqp://h/?heartbeat=5&frameMax=8192').amqplib).to.deep.equal({ frameMax: 8192 });
  });

  it('refuses what cannot work with a one-line ConfigError that names the part and never the password', () => {
    expect(configError(() => parseBrokerUrl('http://u:s3cret@h/'))).to.contain('"http://"').and.contain('rabbit://');
    expect(configError(() => parseBrokerUrl('rabbit://u:s3cret@h1,u:s3cret@h2:abc/'))).to.contain('host 2').and.contain('"abc"').and.not.contain('s3cret');
    expect(configError(() => parseBrokerUrl('rabbit://u:s3cret@/v'))).to.contain('no host name').and.not.contain('s3cret');
    expect(configError(() => parseBrokerUrl('rabbit://u:s3cret@[::1/'))).to.contain('IPv6').and.not.contain('s3cret');
    expect(configError(() => parseBrokerUrl('rabbit://h:0/'))).to.contain('out of range');
    expect(configError(() => parseBrokerUrl('amqps://h/?ssl=false'))).to.contain('ssl=false');
    expect(configError(() => parseBrokerUrl('rabbit://h/?ssl=maybe'))).to.contain('not a boolean');
    expect(configError(() => parseBrokerUrl('rabbit://h/?sssl=1'))).to.contain('"sssl"').and.contain('oslo_messaging_rabbit');
    expect(configError(() => parseBrokerUrl('rabbit://h/?kombu_failover_strategy=random'))).to.contain('round-robin, shuffle');
    for (const m of [configError(() => parseBrokerUrl('http://u:s3cret@h/')), configError(() => parseBrokerUrl('rabbit://h/?sssl=1'))]) expect(m).to.not.contain('\n');
  });

  it('as a setting: accepted in every form, refused with its source named and the password hidden', () => {
    expect(loadConfig({ env: { AMQP_URL: 'rabbit://u1:p1@h1:5672,u2:p2@h2:5672/vhost' } }).amqpUrl).to.equal('rabbit://u1:p1@h1:5672,u2:p2@h2:5672/vhost');
    const m = configError(() => loadConfig({ env: { AMQP_URL: 'rabbit://u1:s3cret1@h1,u2:s3cret2@h2:x/' } }));
    expect(m).to.match(/^invalid setting AMQP_URL: /).and.not.contain('s3cret');
    expect(configError(() => loadConfig({ env: {}, flags: { amqp10AdminUrl: 'amqp10://u:s3cret@h' } }))).to.contain('AMQP 0-9-1').and.not.contain('s3cret');
  });
});

describe('broker URL redaction', () => {
  it('hides every password, whatever the number of hosts', () => {
    expect(redactUrl('rabbit://u1:p1@h1:5672,u2:p2@h2:5672/vhost')).to.equal('rabbit://u1:***@h1:5672,u2:***@h2:5672/vhost');
    expect(redactUrl('amqp://guest:secret@h:5672/v')).to.equal('amqp://guest:***@h:5672/v');
    expect(redactUrl('rabbit://u:p@ss@h/')).to.equal('rabbit://u:***@h/');
    expect(redactUrl('rabbit://h1,h2/')).to.equal('rabbit://h1,h2/');
    expect(redactUrl('amqp10://u:p@h/?ssl_key_password=s3cret&ssl=1')).to.equal('amqp10://u:***@h/?ssl_key_password=***&ssl=1');
  });

  it('hides them in malformed URLs too', () => {
    for (const u of ['rabbit://u:s3cret@[::1/', 'rabbit:u:s3cret@h', 'amqp://u:s3cret@h:abc/', 'rabbit://u:s3cret@h]/', 'u:s3cret@h']) {
      expect(redactUrl(u), u).to.not.contain('s3cret');
    }
  });

  it('for any passwords on any number of hosts: each is read back exactly, and none survives redaction', () => {
    const password = fc.string({ minLength: 1, maxLength: 24 }).map((s) => `PW${s}`);
    fc.assert(
      fc.property(fc.array(password, { minLength: 1, maxLength: 4 }), (passwords) => {
        const url = `rabbit://${passwords.map((p, i) => `user${i}:${encodeURIComponent(p)}@h${i}.example:${5672 + i}`).join(',')}/vh`;
        const b = parseBrokerUrl(url);
        expect(b.hosts.map((h) => h.password)).to.deep.equal(passwords);
        for (const text of [redactUrl(url), b.safe]) {
          for (const p of passwords) expect(text).to.not.contain(encodeURIComponent(p)).and.not.contain(p);
        }
        expect(parseBrokerUrl(redactUrl(url)).hosts.map((h) => h.address)).to.deep.equal(b.hosts.map((h) => h.address));
      }),
      { numRuns: 300 },
    );
  });
});

describe('broker URL mappings', () => {
  it("reads an oslo transport_url's amqp:// as AMQP 1.0 and leaves rabbit:// alone", () => {
    expect(fromOsloTransportUrl('amqp://u:p@h1:5672,u:p@h2:5672/v')).to.equal('amqp10://u:p@h1:5672,u:p@h2:5672/v');
    expect(parseBrokerUrl(fromOsloTransportUrl('amqp://u:p@h1,u:p@h2/v')).protocol).to.equal('amqp10');
    expect(fromOsloTransportUrl('rabbit://u:p@h/v')).to.equal('rabbit://u:p@h/v');
  });

  it('derives the AMQP 0-9-1 URL of an AMQP 1.0 one with every host, dropping options only the amqp1 driver knows', () => {
    expect(amqp091UrlOf('amqps10://u:p@h1:5671,u2:p2@h2/v?idle_timeout=20&sasl_mechanisms=PLAIN&ssl_ca_file=/ca')).to.equal('amqps://u:p@h1:5671,u2:p2@h2/v?heartbeat=20&ssl_ca_file=/ca');
    expect(amqp091UrlOf('amqp10://h1,h2')).to.equal('amqp://h1,h2');
    expect(amqp091UrlOf('rabbit://u:p@h1,h2/v?ssl=1')).to.equal('rabbit://u:p@h1,h2/v?ssl=1');
    expect(parseBrokerUrl(amqp091UrlOf('amqp10://a:b@h1,c:d@h2/v')).hosts.map((h) => h.username)).to.deep.equal(['a', 'c']);
  });

  it('compiles one amqplib target per host, in order, each with its own credentials and the vhost escaped for amqplib', () => {
    const o = compile091({ url: 'rabbit://u1:p1@h1,u2:p%2F2@h2:5673/a%2Fb?ssl=1&heartbeat_timeout_threshold=20' });
    expect(o.hosts.map((h) => h.connect)).to.deep.equal([
      { protocol: 'amqps', hostname: 'h1', port: 5672, username: 'u1', password: 'p1', vhost: 'a%2Fb', heartbeat: 20 },
      { protocol: 'amqps', hostname: 'h2', port: 5673, username: 'u2', password: 'p/2', vhost: 'a%2Fb', heartbeat: 20 },
    ]);
    expect(o.hosts.map((h) => h.label)).to.deep.equal(['rabbit://u1:***@h1:5672/a%2Fb', 'rabbit://u2:***@h2:5673/a%2Fb']);
    expect(() => compile091({ url: 'amqp10://h' })).to.throw(ConfigError, /AMQP 1.0/);
    const a10 = compile10({ url: 'amqp10://u1:p1@h1,u2:p2@h2:5673/v' });
    expect(a10.hosts).to.have.length(2);
    expect(a10.hosts[0]?.connect).to.deep.include({ host: 'h1', port: 5672, username: 'u1', password: 'p1', hostname: 'vhost:v' });
    expect(a10.hosts[1]?.connect).to.deep.include({ host: 'h2', port: 5673, username: 'u2', password: 'p2', hostname: 'vhost:v' });
    expect(a10.adminUrl).to.equal('amqp://u1:p1@h1,u2:p2@h2:5673/v');
  });

  it("reads TLS files named by the URL's oslo options when the settings name none", () => {
    const dir = mkdtempSync(join(tmpdir(), 'hw-url-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    const none = { tlsCaFile: '', tlsCertFile: '', tlsKeyFile: '' };
    expect(transportTls({ ...none, amqpUrl: `rabbit://h/?ssl=1&ssl_ca_file=${join(dir, 'ca.pem')}` }).tls?.ca?.toString()).to.equal('CA');
    expect(transportTls({ ...none, amqpUrl: 'rabbit://h/?ssl=1' })).to.deep.equal({});
    expect(() => transportTls({ ...none, tlsCaFile: join(dir, 'ca.pem'), amqpUrl: 'rabbit://h/' })).to.throw(ConfigError, /ssl=true/);
  });
});

describe('broker failover', () => {
  it('goes round the hosts in order, and shuffle never picks the same host again', () => {
    const r = new HostRotation(['a', 'b', 'c']);
    const seen = [r.current];
    for (let i = 0; i < 4; i++) {
      r.advance();
      seen.push(r.current);
    }
    expect(seen).to.deep.equal(['a', 'b', 'c', 'a', 'b']);
    for (const x of [0, 0.49, 0.5, 0.99]) {
      const s = new HostRotation(['a', 'b', 'c'], 'shuffle', () => x);
      s.advance();
      expect(s.current).to.not.equal('a');
    }
    const one = new HostRotation(['a'], 'shuffle');
    one.advance();
    expect(one.current).to.equal('a');
  });

  it('says a failure once per host and reason, again when the reason changes or after the host had connected', () => {
    const f = new HostFailures();
    expect([f.note('h1:5672', 'refused'), f.note('h1:5672', 'refused'), f.note('h2:5672', 'refused'), f.note('h1:5672', 'not found')]).to.deep.equal([true, false, true, true]);
    f.connected('h1:5672');
    expect(f.note('h1:5672', 'not found')).to.equal(true);
    expect(f.explain('amqp://u:***@h1:5672/', ['h1:5672'], 'timed out')).to.equal('amqp://u:***@h1:5672/: not found');
    expect(f.explain('rabbit://x', ['h1:5672', 'h2:5672', 'h3:5672'], 'timed out')).to.equal('any host of rabbit://x: h1:5672: not found; h2:5672: refused; h3:5672: not tried yet');
    expect(new HostFailures().explain('rabbit://x', ['h1:5672', 'h2:5672'], 'timed out')).to.equal('any host of rabbit://x: timed out');
  });

  it('names why a connection failed in words an operator can act on', () => {
    const refused = new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."');
    expect(describeConnectError(refused, '/')).to.equal('ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN (check the user and password)');
    expect(describeConnectError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), '/')).to.contain('connection refused');
    expect(describeConnectError(new Error('getaddrinfo ENOTFOUND nosuch.invalid'), '/')).to.contain('host not found');
    expect(describeConnectError(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'), 'tenant')).to.contain('"tenant"').and.contain('NOT_ALLOWED');
    expect(describeConnectError(new Error('disconnected: amqp:unauthorized-access: x'), '/')).to.equal('disconnected: amqp:unauthorized-access: x');
  });
});
