import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFilesOf, settingsFromFlags } from '../../src/cli/settings-flags';
import { configKey, iniKey, loadConfig, loadSettings, redactUrl, SETTINGS, type SettingName } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('config', () => {
  it('has the documented defaults (test driver, exchange nova, transient queues, oslo\'s and Nova\'s limits)', () => {
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

  it('names each setting once: the environment variable is HOSTWALL_ and the INI key in capitals (AMQP_URL excepted)', () => {
    for (const n of Object.keys(SETTINGS) as SettingName[]) {
      if (n === 'amqpUrl') continue;
      expect(SETTINGS[n].env, n).to.equal(`HOSTWALL_${iniKey(n).toUpperCase()}`);
    }
  });

  it('compiles durations to ms once: seconds and hours as written, Ms in what the code reads', () => {
    const input = { env: { HOSTWALL_SHUTDOWN_TIMEOUT: '45' }, flags: { storeRetentionH: '2', watchStopDelayS: '0' } };
    expect(loadSettings(input)).to.include({ shutdownTimeoutS: 45, storeRetentionH: 2, watchStopDelayS: 0 });
    const c = loadConfig(input);
    expect(c).to.include({ shutdownTimeoutMs: 45_000, storeRetentionMs: 7_200_000, watchStopDelayMs: 0, eventRetryMs: 60_000, hostPathTimeoutMs: 5_000, concurrency: 64 });
    expect(Object.keys(c).filter((k) => /[a-z][SH]$/.test(k))).to.deep.equal([]);
    expect(configKey('deviceDetachTimeoutS')).to.equal('deviceDetachTimeoutMs');
    expect(configKey('hostPathTimeoutMs')).to.equal('hostPathTimeoutMs');
    expect(configKey('host')).to.equal('host');
  });

  it('still reads a renamed variable by its older name, the new name winning', () => {
    expect(loadConfig({ env: { HOSTWALL_TLS_CA: '/old.pem' } }).tlsCaFile).to.equal('/old.pem');
    expect(loadConfig({ env: { HOSTWALL_TLS_CA: '/old.pem', HOSTWALL_TLS_CA_FILE: '/new.pem' } }).tlsCaFile).to.equal('/new.pem');
    expect(() => loadConfig({ env: { HOSTWALL_HEAP_GROWTH: 'lots' } })).to.throw(ConfigError, /^invalid setting HOSTWALL_HEAP_GROWTH:/);
  });

  it('takes log levels in any case and Python\'s names, and --debug over --log-level', () => {
    expect(loadConfig({ env: { HOSTWALL_LOG_LEVEL: 'DEBUG' } }).logLevel).to.equal('debug');
    expect(loadConfig({ env: { HOSTWALL_LOG_LEVEL: 'Warning' } }).logLevel).to.equal('warn');
    expect(loadConfig({ env: { HOSTWALL_LOG_LEVEL: 'CRITICAL' } }).logLevel).to.equal('error');
    expect(() => loadConfig({ env: { HOSTWALL_LOG_LEVEL: 'loud' } })).to.throw(ConfigError, /HOSTWALL_LOG_LEVEL/);
    expect(loadConfig({ env: { HOSTWALL_DEBUG: 'True' } }).debug).to.equal(true);
    expect(loadConfig({ env: {}, flags: { debug: true } }).debug).to.equal(true);
  });

  it('takes booleans as oslo.config spells them, in any case', () => {
    expect(loadConfig({ env: { HOSTWALL_JOURNAL: 'False' } }).journal).to.equal(false);
    expect(loadConfig({ env: { HOSTWALL_JOURNAL: 'off' } }).journal).to.equal(false);
    expect(loadConfig({ env: { HOSTWALL_VIF_PLUGGING_IS_FATAL: 'YES' } }).vifPluggingIsFatal).to.equal(true);
    expect(() => loadConfig({ env: { HOSTWALL_JOURNAL: 'maybe' } })).to.throw(ConfigError);
  });

  it('has the HTTP endpoint off by default and takes [host:]port for it', () => {
    expect(loadConfig({ env: {} }).httpAddress).to.equal('');
    expect(loadConfig({ env: { HOSTWALL_HTTP_ADDRESS: '9464' } }).httpAddress).to.equal('9464');
    expect(loadConfig({ env: { HOSTWALL_HTTP_ADDRESS: '[::1]:9464' } }).httpAddress).to.equal('[::1]:9464');
    expect(() => loadConfig({ env: { HOSTWALL_HTTP_ADDRESS: 'localhost:99999' } })).to.throw(ConfigError, /at most 65535/);
    expect(() => loadConfig({ env: { HOSTWALL_HTTP_ADDRESS: 'http://x:1' } })).to.throw(ConfigError, /\[host:\]port/);
  });

  describe('the default configuration file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hw-default-'));
    const present = join(dir, 'hostwall.conf');
    writeFileSync(present, '[hostwall]\nlog_level = WARNING\nhost = from-default-file\n');
    const absent = join(dir, 'absent.conf');

    it('is read when it exists and no --config-file or --config-dir is given', () => {
      expect(configFilesOf({}, present)).to.deep.equal({ files: [present], dirs: [] });
      const s = settingsFromFlags({}, present);
      expect(s.config).to.deep.include({ logLevel: 'warn', host: 'from-default-file' });
      expect(s.files).to.deep.equal([present]);
    });

    it('is skipped when it is absent: defaults, and no file read', () => {
      expect(configFilesOf({}, absent)).to.deep.equal({ files: [], dirs: [] });
      expect(settingsFromFlags({ host: 'h1' }, absent)).to.deep.include({ files: [] });
    });

    it('is not read when files are named', () => {
      const other = join(dir, 'other.conf');
      writeFileSync(other, '[hostwall]\nhost = named\n');
      expect(configFilesOf({ configFile: [other] }, present).files).to.deep.equal([other]);
      expect(configFilesOf({ configDir: [dir] }, present).files).to.deep.equal([]);
      expect(settingsFromFlags({ configFile: [other] }, present).config.host).to.equal('named');
    });
  });
});
