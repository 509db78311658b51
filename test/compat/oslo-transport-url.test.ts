/**
 * hostwall reads a broker URL as oslo.messaging reads a transport_url: the
 * expectations come from Debian's real oslo.messaging (test/compat/py/
 * oslo_transport_url.py), run over a table of URLs, not from our reading of
 * its code. Where hostwall deliberately differs, the case says so and the
 * test checks the difference.
 */
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../src/errors';
import { parseBrokerUrl } from '../../src/transport/broker-url';
import { parseTransportUrl, TransportUrlParts } from '../../src/transport/transport-url';
import { OSLO_AMQP1_OPTIONS, OSLO_RABBIT_OPTIONS } from '../../src/transport/url-options';
import { type PyPeer, startPython } from '../support/python';

const PY = join(__dirname, '..', '..', '..', 'test', 'compat', 'py');

/** URLs as an operator may write them in nova.conf, and the odd corners of oslo's parser. */
const URLS = [
  'rabbit://guest:guest@127.0.0.1:5672/',
  'rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh',
  'rabbit://u1:p1@h1,h2/vh', // mixed: oslo warns, h2 gets no credentials of h1's
  'rabbit://h1,u:p@h2/x',
  'rabbit://h1', // no path: vhost null
  'rabbit://h1/', // "": the default vhost
  'rabbit://h1//', // "/"
  'rabbit://h1/%2F',
  'rabbit://h1/a%2Fb',
  'rabbit://h1/my%20vhost',
  'rabbit:///', // no host: localhost
  'rabbit:///vh',
  'rabbit://u%40x:p%3A%2C%25@h/', // percent-encoded user and password
  'rabbit://user@realm:p@ss@h/', // the LAST "@" ends the credentials, the FIRST ":" ends the user
  'rabbit://u:p:q@h/',
  'rabbit://u@h/', // user only
  'rabbit://:p@h/', // password only
  'rabbit://u:@h/',
  'rabbit://u:p@[::1]:5672,u:p@[fe80::2]/',
  'rabbit://u:p@[::1]/',
  'rabbit://h1,,h2/', // empty entry skipped
  'rabbit://h1:5672,h2:5673/?ssl=1&heartbeat_timeout_threshold=30',
  'rabbit://h/?ssl=true&ssl=false', // repeated key: values joined with ","
  'rabbit://h/?ssl=', // blank value dropped
  'rabbit://h/?a+b=c+d&x=%41',
  'RABBIT://H1:5672/Vh', // scheme lower-cased, the rest kept
  'rabbit://h/v#fragment',
  '  rabbit://h/', // leading blanks stripped
  'rabbit://%C3%A9l%C3%A8ve:p%zz@h/%FF', // UTF-8, a stray "%", an invalid byte
  'rabbit://h:99999/', // a port out of range: oslo takes it (and fails to connect)
  'amqp://guest:guest@localhost:5672/',
  'amqp10://u:p@h:5672/v',
  'h1:5672', // "h1" is a scheme to urlsplit
  // oslo raises on these:
  'rabbit://u:s3cret@h:abc/',
  'rabbit://u:s3cret@[::1/',
  'rabbit://h]/',
  '//h1/',
  // ('' is not in the table: to oslo it means "the configured transport_url", to hostwall "the default amqpUrl".)
];

/** Python 3.11's urlsplit refuses an IPv6 host that is not the first: a quirk of that Python, not oslo's syntax; accepted here. */
const PYTHON_IPV6_QUIRK = 'rabbit://u:p@h1:5672,[::1]:5673/';

/** Query options as the rabbit driver checks them (names of its group, values of the option's type). */
const QUERIES = [
  'ssl=1', 'ssl=on', 'ssl=True', 'ssl=maybe', 'foo=1', 'rabbit_use_ssl=1', 'heartbeat_timeout_threshold=abc',
  'heartbeat_timeout_threshold=30', 'kombu_failover_strategy=shuffle', 'kombu_failover_strategy=xx', 'rabbit_qos_prefetch_count=10',
  'rabbit_login_method=PLAIN', 'rabbit_login_method=plain', 'kombu_reconnect_delay=0.5', 'kombu_reconnect_delay=soon', 'heartbeat=10',
];

type Answer = { ok: true; value: unknown } | { ok: false; error: string };

describe('broker URLs as oslo.messaging reads a transport_url (Debian python3-oslo.messaging)', function () {
  this.timeout(60_000);
  let py: PyPeer;
  const ask = async (op: string, url?: string): Promise<Answer> => {
    py.send({ op, ...(url !== undefined ? { url } : {}) });
    return (await py.next(30_000)) as Answer;
  };
  const oursOrError = <T>(fn: () => T): T | ConfigError => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
  };

  before(() => {
    py = startPython(join(PY, 'oslo_transport_url.py'), {});
  });
  after(async () => {
    await py.close();
  });

  it('splits every URL of the table as TransportURL.parse does: hosts, credentials, ports, vhost, query; refuses what it refuses', async () => {
    for (const url of URLS) {
      const oslo = await ask('parse', url);
      const ours = oursOrError(() => parseTransportUrl(url));
      if (oslo.ok) {
        expect(ours, `${JSON.stringify(url)}: oslo parsed it`).to.not.be.instanceOf(ConfigError);
        expect(ours, JSON.stringify(url)).to.deep.equal(TransportUrlParts.parse(oslo.value));
      } else {
        expect(ours, `${JSON.stringify(url)}: oslo said ${oslo.error}`).to.be.instanceOf(ConfigError);
        expect((ours as ConfigError).message).to.not.contain('s3cret');
      }
    }
  });

  it('accepts an IPv6 host after the first, which Python 3.11 (not oslo) refuses', async () => {
    const oslo = await ask('parse', PYTHON_IPV6_QUIRK);
    expect(oslo.ok === false && oslo.error).to.equal('ValueError: Invalid IPv6 URL');
    expect(parseTransportUrl(PYTHON_IPV6_QUIRK).hosts).to.deep.equal([
      { hostname: 'h1', port: 5672, username: 'u', password: 'p' },
      { hostname: '::1', port: 5673, username: null, password: null },
    ]);
  });

  it('connects each host of a rabbit:// URL with the credentials, port and vhost the rabbit driver (kombu) uses', async () => {
    let compared = 0;
    for (const url of URLS.filter((u) => u.trim().toLowerCase().startsWith('rabbit://'))) {
      const kombu = await ask('kombu', url);
      const ours = oursOrError(() => parseBrokerUrl(url.replace(/\?.*/, '')));
      if (!kombu.ok) {
        expect(ours, `${url}: oslo said ${kombu.error}`).to.be.instanceOf(ConfigError);
        continue;
      }
      if (ours instanceof ConfigError) {
        // Stricter than oslo, on purpose: a port out of range is refused here instead of failing every connect.
        expect(url, ours.message).to.equal('rabbit://h:99999/');
        continue;
      }
      const mine = ours.hosts.map((h) => ({ hostname: h.hostname, port: h.port, username: h.username, password: h.password, vhost: ours.vhost }));
      expect(mine, url).to.deep.equal(kombu.value);
      compared++;
    }
    expect(compared).to.be.greaterThan(20);
  });

  it("decodes the vhost once, where kombu decodes oslo's already decoded vhost a second time", async () => {
    const kombu = await ask('kombu', 'rabbit://h/a%2525b');
    expect(kombu).to.deep.equal({ ok: true, value: [{ hostname: 'h', port: 5672, username: 'guest', password: 'guest', vhost: 'a%b' }] });
    expect(parseBrokerUrl('rabbit://h/a%2525b').vhost).to.equal('a%25b'); // what TransportURL.parse says the vhost is
  });

  it('accepts and refuses query options as the rabbit driver does (ConfigOptsProxy: known names, convertible values)', async () => {
    for (const q of QUERIES) {
      const url = `rabbit://h:5672/?${q}`;
      const oslo = await ask('driver', url);
      const ours = oursOrError(() => parseBrokerUrl(url));
      if (q === 'heartbeat=10') {
        // amqplib's own option: refused on rabbit:// as oslo refuses it, taken on hostwall's amqp://.
        expect(oslo.ok).to.equal(false);
        expect(ours).to.be.instanceOf(ConfigError);
        expect(parseBrokerUrl(`amqp://h/?${q}`).heartbeatS).to.equal(10);
        continue;
      }
      expect(ours instanceof ConfigError, `${q}: oslo ${oslo.ok ? 'accepts' : `refuses (${oslo.error})`}`).to.equal(!oslo.ok);
    }
  });

  it("knows the options of oslo's rabbit and amqp1 driver groups, with their types", async () => {
    const a = await ask('options');
    expect(a.ok).to.equal(true);
    const value = (a.ok ? a.value : {}) as { rabbit: unknown; amqp1: unknown };
    expect(OSLO_RABBIT_OPTIONS).to.deep.equal(value.rabbit);
    expect(OSLO_AMQP1_OPTIONS).to.deep.equal(value.amqp1);
  });
});
