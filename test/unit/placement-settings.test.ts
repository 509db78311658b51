import { expect } from 'chai';
import { placementSettingsFromIni } from '../../src/adapters/nova/placement/settings';
import { ConfigError } from '../../src/errors';

/** The [placement] section of a typical nova-compute.conf, as the INI reader hands it over. */
const NOVA_COMPUTE_CONF = {
  auth_type: 'password',
  auth_url: 'http://controller:5000/v3',
  username: 'placement',
  password: 'pw-Secret-42',
  user_domain_name: 'Default',
  project_name: 'service',
  project_domain_name: 'Default',
  region_name: 'RegionOne',
};

function configError(section: Record<string, string>): string {
  try {
    placementSettingsFromIni(section);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message, 'one line').to.not.contain('\n');
    return message;
  }
  throw new Error('expected a ConfigError');
}

describe('placement settings from [placement]', () => {
  it('reads the password auth of nova-compute.conf with keystoneauth defaults', () => {
    const { settings, ignored } = placementSettingsFromIni(NOVA_COMPUTE_CONF);
    expect(settings).to.deep.include({ auth_type: 'password', auth_url: 'http://controller:5000/v3', username: 'placement', region_name: 'RegionOne', service_type: 'placement', insecure: false, timeout: 30 });
    expect(settings.valid_interfaces).to.deep.equal(['internal', 'public']);
    expect(ignored).to.deep.equal([]);
  });

  it('takes v3password, lists, booleans and numbers as oslo.config writes them', () => {
    const { settings } = placementSettingsFromIni({ ...NOVA_COMPUTE_CONF, auth_type: 'v3password', valid_interfaces: 'publicURL, internal', insecure: 'True', timeout: '12', connect_retries: '0', region_name: '' });
    expect(settings.auth_type).to.equal('password');
    expect(settings).to.deep.include({ valid_interfaces: ['public', 'internal'], insecure: true, timeout: 12, connect_retries: 0 });
    expect(settings.region_name, 'an empty value is unset').to.equal(undefined);
  });

  it('takes the older single `interface` when valid_interfaces is not given', () => {
    expect(placementSettingsFromIni({ ...NOVA_COMPUTE_CONF, interface: 'admin' }).settings.valid_interfaces).to.deep.equal(['admin']);
    const both = placementSettingsFromIni({ ...NOVA_COMPUTE_CONF, interface: 'admin', valid_interfaces: 'public' });
    expect(both.settings.valid_interfaces).to.deep.equal(['public']);
    expect(both.ignored).to.deep.equal(['interface']);
  });

  it('reads admin_token and none, endpoint_override or endpoint', () => {
    const admin = placementSettingsFromIni({ auth_type: 'admin_token', endpoint_override: 'http://127.0.0.1:18778', token: 'admin' }).settings;
    expect(admin).to.deep.include({ auth_type: 'admin_token', endpoint_override: 'http://127.0.0.1:18778', token: 'admin' });
    const none = placementSettingsFromIni({ auth_type: 'none', endpoint: 'https://placement.example/placement' }).settings;
    expect(none).to.deep.include({ auth_type: 'none', endpoint: 'https://placement.example/placement' });
  });

  it('lists the keys it does not use, including another auth_type\'s', () => {
    const { ignored } = placementSettingsFromIni({ auth_type: 'admin_token', endpoint: 'http://p:8778', token: 't', auth_url: 'http://k:5000', os_region_name: 'R', split_loggers: 'false' });
    expect(ignored).to.deep.equal(['auth_url', 'os_region_name', 'split_loggers']);
  });

  it('names the key in a one-line ConfigError', () => {
    expect(configError({})).to.equal('[placement] auth_type is missing: password, admin_token or none');
    expect(configError({ auth_type: 'token' })).to.contain('auth_type = "token" is not supported');
    expect(configError({ ...NOVA_COMPUTE_CONF, password: '' })).to.match(/^\[placement\] password is required/);
    expect(configError({ ...NOVA_COMPUTE_CONF, user_domain_name: '' })).to.match(/^\[placement\] user_domain_name is required with username/);
    expect(configError({ ...NOVA_COMPUTE_CONF, project_name: '' })).to.match(/^\[placement\] project_name is required/);
    expect(configError({ ...NOVA_COMPUTE_CONF, project_domain_name: '' })).to.match(/^\[placement\] project_domain_name is required/);
    expect(configError({ ...NOVA_COMPUTE_CONF, auth_url: 'controller:5000' })).to.equal('[placement] auth_url must be an http:// or https:// URL (got "controller:5000")');
    expect(configError({ ...NOVA_COMPUTE_CONF, insecure: 'maybe' })).to.equal('[placement] insecure must be true or false (got "maybe")');
    expect(configError({ ...NOVA_COMPUTE_CONF, timeout: 'soon' })).to.equal('[placement] timeout must be a number (got "soon")');
    expect(configError({ ...NOVA_COMPUTE_CONF, timeout: '-1' })).to.match(/^\[placement\] timeout .*\(got -1\)$/);
    expect(configError({ ...NOVA_COMPUTE_CONF, valid_interfaces: 'internal,private' })).to.contain('valid_interfaces has "private"');
    expect(configError({ auth_type: 'admin_token', token: 'admin' })).to.match(/^\[placement\] endpoint_override is required \(or endpoint\)/);
    expect(configError({ auth_type: 'admin_token', endpoint: 'http://p:8778' })).to.match(/^\[placement\] token is required/);
    expect(configError({ ...NOVA_COMPUTE_CONF, auth_section: 'keystone_authtoken' })).to.contain('auth_section is not supported');
    expect(configError({ ...NOVA_COMPUTE_CONF, system_scope: 'all' })).to.contain('project-scoped token');
  });

  it('accepts a user and project given by id without domains, or a default domain', () => {
    const byId = { auth_type: 'password', auth_url: 'http://k:5000', user_id: 'u1', password: 'p', project_id: 'p1' };
    expect(placementSettingsFromIni(byId).settings).to.deep.include({ user_id: 'u1', project_id: 'p1' });
    const byDefault = { auth_type: 'password', auth_url: 'http://k:5000', username: 'n', password: 'p', project_name: 's', default_domain_id: 'default' };
    expect(placementSettingsFromIni(byDefault).settings).to.deep.include({ default_domain_id: 'default' });
  });

  it('never puts a password or token in an error', () => {
    const messages = [
      configError({ ...NOVA_COMPUTE_CONF, user_domain_name: '' }),
      configError({ ...NOVA_COMPUTE_CONF, insecure: 'maybe' }),
      configError({ auth_type: 'admin_token', token: 'tok-Secret-9' }),
    ];
    for (const m of messages) expect(m).to.not.match(/pw-Secret-42|tok-Secret-9/);
  });
});
