/** os-brick's connector properties as hostConnector builds them. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { HostConnector } from '../../src/intents';
import { firstIpv4, hostConnector, machineOf, parseInitiatorName } from '../../src/drivers/host-connector';

describe('libvirt host connector', () => {
  let dir = '';
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostwall-connector-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads the initiator from an open-iscsi initiatorname file', async () => {
    const file = path.join(dir, 'initiatorname.iscsi');
    await fs.writeFile(file, '## DO NOT EDIT\n#InitiatorName=iqn.commented:out\nInitiatorName=iqn.1993-08.org.debian:01:abcdef\n');
    const c = await hostConnector({ host: 'compute-1', ip: '192.0.2.10', initiatorFile: file, multipath: true });
    expect(HostConnector.parse(c)).to.deep.equal({
      host: 'compute-1', ip: '192.0.2.10', initiator: 'iqn.1993-08.org.debian:01:abcdef', multipath: true, enforce_multipath: false,
      platform: os.machine(), os_type: 'linux', do_local_attach: false,
    });
  });

  it('omits the initiator when the host has no initiator file, and finds an IPv4 address itself', async () => {
    const c = await hostConnector({ host: 'compute-2', initiatorFile: path.join(dir, 'absent') });
    expect(c).to.not.have.property('initiator');
    expect(c.ip).to.match(/^\d+\.\d+\.\d+\.\d+$/);
    expect(c.multipath).to.equal(false);
  });

  it('picks the first non-internal IPv4 address', () => {
    const base = { netmask: '', mac: '00:00:00:00:00:00', cidr: null };
    expect(firstIpv4({
      lo: [{ ...base, address: '127.0.0.1', family: 'IPv4', internal: true }],
      eth0: [{ ...base, address: 'fe80::1', family: 'IPv6', internal: false, scopeid: 2 }, { ...base, address: '198.51.100.4', family: 'IPv4', internal: false }],
    })).to.equal('198.51.100.4');
    expect(firstIpv4({})).to.equal('127.0.0.1');
  });

  it("names the platform as Python's platform.machine() does", () => {
    expect(machineOf('x64')).to.equal('x86_64');
    expect(machineOf('arm64')).to.equal('aarch64');
    expect(machineOf('s390x')).to.equal('s390x');
    expect(parseInitiatorName('InitiatorName = iqn.x:y \n')).to.equal('iqn.x:y');
    expect(parseInitiatorName('nothing here')).to.equal(undefined);
  });
});
