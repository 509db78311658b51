import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNovaConf } from '../../src/adapters/nova/nova-conf';
import { TABLE_BEGIN, TABLE_END, withTable } from '../../src/cli/config';
import { iniKey, kebab, loadConfig, SETTINGS, type SettingName } from '../../src/config';
import { configSample, configTable } from '../../src/config-docs';
import { ConfigError } from '../../src/errors';
import { parseIni } from '../../src/oslo/config-files';

const ROOT = join(__dirname, '..', '..', '..');
const names = Object.keys(SETTINGS) as SettingName[];

describe('configuration docs (generated from config.ts SETTINGS)', () => {
  it('the README\'s configuration table is the generated one (run `npm run readme:config` after changing a setting)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).to.contain(TABLE_BEGIN).and.contain(TABLE_END);
    expect(withTable(readme, configTable(), 'README.md') === readme, 'README.md table is stale').to.equal(true);
  });

  it('has one row per setting naming its flag, environment variable and INI key', () => {
    const rows = configTable().split('\n').slice(2);
    expect(rows).to.have.length(names.length);
    for (const [i, n] of names.entries()) expect(rows[i]).to.contain(`\`--${kebab(n)}\``).and.contain(`\`${SETTINGS[n].env}\``).and.contain(`\`${iniKey(n)}\``);
  });

  it('refuses to write a table into a file without its markers', () => {
    expect(() => withTable('# no markers\n', configTable(), 'x.md')).to.throw(ConfigError, /no <!-- config-table:begin/);
  });

  it('prints a sample INI file in which every setting appears once, commented out at its default, in [hostwall]', () => {
    const sample = configSample();
    const ini = parseIni(sample, 'sample');
    expect([...(ini.get('hostwall')?.keys() ?? [])]).to.deep.equal([], 'every option is commented out');
    for (const n of names) expect(sample.match(new RegExp(`^#${iniKey(n)} = `, 'gm')), iniKey(n)).to.have.length(1);
    expect(sample).to.match(/^# Minimum value: 1$/m).and.match(/^# Possible values:\n# transient\n# durable\n# quorum$/m);
  });

  it('gives defaults the worker accepts: the sample with every option uncommented loads as the defaults', () => {
    // The host's default depends on the machine: the sample names it in words.
    const uncommented = configSample().replace(/^#(?!host = )([a-z0-9_]+ = )/gm, '$1');
    const nova = readNovaConf({ sections: parseIni(uncommented, 'sample'), origin: new Map(), files: ['sample'] });
    const fromSample = loadConfig({ env: {}, layers: nova.layers });
    expect(fromSample).to.deep.equal(loadConfig({ env: {} }));
  });
});
