/**
 * TLS files reach both transports, and a TLS URL whose files cannot be read
 * fails before any connection with a ConfigError naming the file (issue 14:
 * `amqps10://` with a missing CA file used to start on the system's CA store).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { compileOptions as compile091 } from '../../src/transport/amqp091/options';
import { compileOptions as compile10 } from '../../src/transport/amqp10/options';
import { createTransport } from '../../src/transport/select';
import { openTransport } from '../../src/worker/connect';

/** rhea's TLS connect options (its type is a union with the TCP form). */
const caOf = (connect: object | undefined): unknown => (connect && 'ca' in connect ? connect.ca : undefined);

const missing = join(tmpdir(), 'hostwall-no-such-dir', 'ca.pem');

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('transport TLS files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hostwall-tls-'));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, 'CA PEM');

  it('amqps10:// with a missing CA file in the URL fails with a ConfigError naming the option and the file, before connecting', () => {
    const err = thrown(() => createTransport(`amqps10://guest:guest@127.0.0.1:5671/?ssl_ca_file=${missing}`));
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).code).to.equal('CONFIG_INVALID');
    expect((err as ConfigError).message).to.contain('ssl_ca_file').and.contain(missing);
  });

  it('amqps10:// with a missing tlsCaFile setting fails the same way (the worker and every command open their transport so)', () => {
    const config = loadConfig({ env: {}, flags: { amqpUrl: 'amqps10://guest:guest@127.0.0.1:5671', tlsCaFile: missing } });
    const err = thrown(() => openTransport(config, { connectionName: 'test-tls' }));
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).message).to.contain('tlsCaFile').and.contain(missing);
  });

  it('amqps:// (0-9-1) with a missing CA file in the URL fails alike', () => {
    const err = thrown(() => createTransport(`amqps://guest:guest@127.0.0.1:5671/?ssl_ca_file=${missing}`));
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).message).to.contain(missing);
  });

  it("the URL's CA file reaches rhea's and amqplib's connect options, and the AMQP 1.0 topology connection", () => {
    const o10 = compile10({ url: `amqps10://guest:guest@127.0.0.1:5671/?ssl_ca_file=${ca}` });
    expect(String(caOf(o10.hosts[0]?.connect))).to.equal('CA PEM');
    expect(String(o10.tls?.ca)).to.equal('CA PEM');
    const o091 = compile091({ url: `amqps://guest:guest@127.0.0.1:5671/?ssl_ca_file=${ca}` });
    expect(String(o091.socket.ca)).to.equal('CA PEM');
  });

  it('TLS material given as an option wins over the URL (the settings over the URL, as worker/tls.ts reads them)', () => {
    const o10 = compile10({ url: `amqps10://127.0.0.1/?ssl_ca_file=${missing}`, tls: { ca: 'GIVEN' } });
    expect(caOf(o10.hosts[0]?.connect)).to.equal('GIVEN');
  });

  it('TLS files on a non-TLS URL are refused, not ignored', () => {
    expect(thrown(() => compile10({ url: `amqp10://127.0.0.1/?ssl_ca_file=${ca}` }))).to.be.instanceOf(ConfigError);
    expect(thrown(() => compile091({ url: `amqp://127.0.0.1/?ssl_ca_file=${ca}` }))).to.be.instanceOf(ConfigError);
  });
});
