import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, redactUrl } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('config', () => {
  it('has defaults that match DESIGN §7', () => {
    const c = loadConfig({ env: {} });
    expect(c).to.deep.include({ libvirtUri: 'test:///default', controlExchange: 'nova', queues: 'transient', concurrency: 64, maxConcurrentBuilds: 10 });
  });

  it('takes flags over the environment over the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hw-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ host: 'from-file', concurrency: 3, queues: 'durable' }));
    const c = loadConfig({ env: { HOSTWALL_HOST: 'from-env', HOSTWALL_CONCURRENCY: '5' }, file, flags: { host: 'from-flag' } });
    expect(c).to.deep.include({ host: 'from-flag', concurrency: 5, queues: 'durable' });
  });

  it('names the setting and its source in a one-line error', () => {
    const bad = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected ConfigError');
    };
    expect(bad(() => loadConfig({ env: { HOSTWALL_QUEUES: 'forever' } }))).to.match(/^invalid setting HOSTWALL_QUEUES: .*forever/);
    expect(bad(() => loadConfig({ env: {}, flags: { concurrency: '0' } }))).to.match(/^invalid setting --concurrency:/);
    expect(bad(() => loadConfig({ env: { AMQP_URL: 'http://x' } }))).to.contain('AMQP_URL');
    const dir = mkdtempSync(join(tmpdir(), 'hw-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ concurency: 3 }));
    expect(bad(() => loadConfig({ env: {}, file }))).to.contain('unknown setting "concurency"');
    expect(bad(() => loadConfig({ env: {}, file }))).to.not.contain('\n');
  });

  it('takes the disk roots as comma-separated or JSON lists of absolute directories', () => {
    expect(loadConfig({ env: {} })).to.deep.include({ hostPathAllow: ['/var/lib/hostwall/volumes'], blockDeviceDirs: ['/dev/disk/by-path', '/dev/disk/by-id', '/dev/mapper'], hostPathTimeoutMs: 5000, nfsMountBase: '', imageCachePath: '' });
    expect(loadConfig({ env: { HOSTWALL_HOST_PATH_ALLOW: '/srv/a, /srv/b' } }).hostPathAllow).to.deep.equal(['/srv/a', '/srv/b']);
    expect(loadConfig({ env: { HOSTWALL_BLOCK_DEVICE_DIRS: '["/dev/disk/by-path"]' } }).blockDeviceDirs).to.deep.equal(['/dev/disk/by-path']);
    expect(loadConfig({ env: { HOSTWALL_HOST_PATH_ALLOW: '' } }).hostPathAllow).to.deep.equal(['/var/lib/hostwall/volumes']);
    expect(() => loadConfig({ env: { HOSTWALL_HOST_PATH_ALLOW: 'relative/dir' } })).to.throw(ConfigError, /HOSTWALL_HOST_PATH_ALLOW: must be absolute paths/);
    expect(() => loadConfig({ env: { HOSTWALL_NFS_MOUNT_BASE: 'mnt' } })).to.throw(ConfigError, /HOSTWALL_NFS_MOUNT_BASE/);
  });

  it('hides the password of a broker URL', () => {
    expect(redactUrl('amqp://guest:secret@h:5672/v')).to.equal('amqp://guest:***@h:5672/v');
  });
});
