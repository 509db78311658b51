/**
 * Domain and device XML builders, checked by parsing what they produce with
 * a small strict parser written here (independent of the driver's own
 * scanner), so a malformed or mis-escaped document fails the test.
 */
import { expect } from 'chai';
import { IntentFailure } from '../../src/errors';
import type { ConnectionInfo, Port, SpawnArgs } from '../../src/intents';
import {
  busForTarget, interfaceDevice, nextFreeTarget, nfsMountPoint, parsePortal, targetFromDeviceName, volumeDevice,
} from '../../src/drivers/libvirt/device-xml';
import { buildDomainXml, cachedImagePath, domainTypeForUri, rootDiskPlan } from '../../src/drivers/libvirt/domain-xml';
import { emptyFacts, factsXml, HOSTWALL_NS, readFacts, withFacts } from '../../src/drivers/libvirt/metadata';
import { findElements, removeElement } from '../../src/drivers/libvirt/xml';

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

function decode(s: string): string {
  if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(s)) throw new Error(`bare & in ${JSON.stringify(s)}`);
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-f]+|#\d+);/gi, (_m, e: string) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ??
    String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10)));
}

/** Strict enough for these documents: balanced tags, quoted attributes, valid entities, one root. */
function parse(xml: string): El {
  const token = /<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)/y;
  const root: El = { name: '#doc', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  let pos = 0;
  while (pos < xml.length) {
    token.lastIndex = pos;
    const m = token.exec(xml);
    if (!m) throw new Error(`not XML at ${pos}: ${xml.slice(pos, pos + 40)}`);
    pos = token.lastIndex;
    const top = stack[stack.length - 1] as El;
    if (m[1]) {
      if (top.name !== m[1]) throw new Error(`</${m[1]}> closes <${top.name}>`);
      stack.pop();
    } else if (m[2]) {
      const el: El = { name: m[2], attrs: {}, children: [], text: '' };
      for (const a of (m[3] ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        const key = a[1] ?? '';
        if (key in el.attrs) throw new Error(`duplicate attribute ${key}`);
        el.attrs[key] = decode(a[2] ?? a[3] ?? '');
      }
      top.children.push(el);
      if (!m[4]) stack.push(el);
    } else {
      top.text += decode(m[5] ?? '');
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]?.name}>`);
  if (root.children.length !== 1) throw new Error('not exactly one root element');
  return root.children[0] as El;
}

function all(el: El, name: string): El[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...all(c, name)]);
}

function one(el: El, name: string): El {
  const found = all(el, name);
  expect(found, `<${name}>`).to.have.length(1);
  return found[0] as El;
}

const UUID = '5a0b3f9e-7c1d-4e2a-9b8c-0d1e2f3a4b5c';
const PORT_ID = '9f8e7d6c-5b4a-4321-8fed-cba987654321';

function spec(over: Partial<SpawnArgs> = {}): SpawnArgs {
  return { instance_uuid: UUID, name: 'instance-0000000a', flavor: { vcpus: 2, memory_mb: 512, root_gb: 1 }, ...over };
}

const opts = { domainType: 'test' as const, nfsMountBase: '/mnt/nfs', vhostuserSocketDir: '/run/ovs' };

function port(over: Partial<Port> = {}): Port {
  return { port_id: PORT_ID, mac_address: 'FA:16:3E:AA:BB:CC', vif_type: 'bridge', network: { bridge: 'br100' }, ...over };
}

function vol(type: string, data: ConnectionInfo['data'], target = 'vdb') {
  return volumeDevice({ volumeId: 'vol-1', connectionInfo: { driver_volume_type: type, data }, target, nfsMountBase: '/mnt/nfs' });
}

function expectFailure(fn: () => unknown, code: string, text: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(IntentFailure);
    expect((err as IntentFailure).code).to.equal(code);
    expect((err as IntentFailure).message).to.match(text);
    return;
  }
  expect.fail('expected a failure');
}

describe('libvirt domain XML', () => {
  it('derives the domain type from the URI', () => {
    expect(domainTypeForUri('test:///default', false)).to.equal('test');
    expect(domainTypeForUri('test+unix:///default', true)).to.equal('test');
    expect(domainTypeForUri('qemu:///system', true)).to.equal('kvm');
    expect(domainTypeForUri('qemu+ssh://h/system', false)).to.equal('qemu');
    // The operator's virt type (Nova's [libvirt] virt_type) wins over /dev/kvm's presence, and never changes a test:// URI.
    expect(domainTypeForUri('qemu:///system', true, 'qemu')).to.equal('qemu');
    expect(domainTypeForUri('qemu:///system', false, 'kvm')).to.equal('kvm');
    expect(domainTypeForUri('test:///default', true, 'qemu')).to.equal('test');
    expect(() => domainTypeForUri('xen:///', false)).to.throw(/unsupported/);
  });

  it('writes name, uuid, memory, vcpus and the domain type', () => {
    const d = parse(buildDomainXml(spec(), opts).xml);
    expect(d.name).to.equal('domain');
    expect(d.attrs.type).to.equal('test');
    expect(one(d, 'name').text).to.equal('instance-0000000a');
    expect(one(d, 'uuid').text).to.equal(UUID);
    expect(one(d, 'memory').attrs.unit).to.equal('MiB');
    expect(one(d, 'memory').text).to.equal('512');
    expect(one(d, 'vcpu').text).to.equal('2');
    expect(all(d, 'acpi')).to.have.length(1);
    expect(all(d, 'serial').filter((s) => s.attrs.type === 'pty')).to.have.length(0);
    const kvm = parse(buildDomainXml(spec(), { ...opts, domainType: 'kvm' }).xml);
    expect(kvm.attrs.type).to.equal('kvm');
    expect(all(kvm, 'cpu')).to.have.length(0);
    expect(one(parse(buildDomainXml(spec(), { ...opts, domainType: 'kvm', cpuMode: 'host-model' }).xml), 'cpu').attrs.mode).to.equal('host-model');
    expect(all(kvm, 'console')).to.have.length(1);
  });

  it('escapes text and attributes so hostile names and metadata stay data', () => {
    const name = `a<b>&'"c`;
    const metadata = { "k'<&>\"": `v</hostwall:meta><evil/>&amp;`, multi: 'l1\nl2\r\n\tend' };
    const s = spec({ name, metadata, image: { id: `img'"<>`, path: `/img/it's & <odd>.qcow2` } });
    const built = buildDomainXml(s, { ...opts, rootDisk: rootDiskPlan(s, '/inst') });
    const d = parse(built.xml);
    expect(one(d, 'name').text).to.equal(name);
    expect(all(d, 'evil')).to.have.length(0);
    const root = all(d, 'disk').find((x) => all(x, 'target')[0]?.attrs.dev === 'vda');
    expect(root && one(root, 'source').attrs.file).to.equal(`/img/it's & <odd>.qcow2`);
    expect(readFacts(built.xml)?.metadata).to.deep.equal(metadata);
    expect(readFacts(built.xml)?.image_id).to.equal(`img'"<>`);
  });

  it('base64-encodes metadata XML cannot carry, and reads it back exactly', () => {
    const metadata = { 'bell\u0007': 'nul\u0000 and \u001b[0m' };
    const built = buildDomainXml(spec({ metadata }), opts);
    parse(built.xml);
    for (const c of ['\u0000', '\u0007', '\u001b']) expect(built.xml).to.not.include(c);
    expect(readFacts(built.xml)?.metadata).to.deep.equal(metadata);
  });

  it('plans the root disk: the image file as-is, a generated disk, or none', () => {
    expect(rootDiskPlan(spec({ image: { path: '/i/cirros.qcow2' } }), '/inst')).to.deep.include({ path: '/i/cirros.qcow2', format: 'qcow2', generated: false });
    expect(rootDiskPlan(spec({ image: { path: '/i/disk.img' } }), '/inst')).to.deep.include({ format: 'raw', generated: false });
    expect(rootDiskPlan(spec(), '/inst')).to.deep.include({ path: `/inst/${UUID}/disk`, generated: true, sizeGb: 1 });
    expect(rootDiskPlan(spec({ flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } }), '/inst')).to.equal(undefined);
  });

  it('looks an image id up where Nova\'s image cache keeps it (_base/<sha1 of the id>)', () => {
    // The name Debian's Nova gives it: nova.virt.libvirt.imagecache.get_cache_fname('0d9c6b5a-...').
    expect(cachedImagePath('/inst/_base', '0d9c6b5a-4e3f-4a2b-8c1d-9e8f7a6b5c4d')).to.equal('/inst/_base/c94b68bc81ccf5c5f15e2b42ba111f44d41d31e3');
  });

  it('gives the root disk vda, then spawn volumes vdb.. with serials, one interface per port, and records facts', () => {
    const rootDisk = rootDiskPlan(spec(), '/inst');
    const built = buildDomainXml(
      spec({
        image: { id: 'img-1' },
        volumes: [
          { volume_id: 'vol-a', connection_info: { driver_volume_type: 'file', data: { device_path: '/v/a' } } },
          { volume_id: 'vol-b', connection_info: { driver_volume_type: 'rbd', data: { name: 'p/b', hosts: ['m1'], ports: ['6789'] } } },
        ],
        ports: [port(), port({ port_id: 'aaaa1111-2222-4333-8444-555566667777', mac_address: 'fa:16:3e:00:00:02', vif_type: 'ovs', network: { bridge: 'br-int' } })],
      }),
      { ...opts, rootDisk },
    );
    const d = parse(built.xml);
    const disks = all(d, 'disk').map((x) => [one(x, 'target').attrs.dev, all(x, 'serial')[0]?.text]);
    expect(disks).to.deep.equal([['vda', undefined], ['vdb', 'vol-a'], ['vdc', 'vol-b']]);
    expect(all(d, 'interface').map((i) => one(i, 'mac').attrs.address)).to.deep.equal(['fa:16:3e:aa:bb:cc', 'fa:16:3e:00:00:02']);
    const facts = readFacts(built.xml);
    expect(facts?.flavor).to.deep.equal({ vcpus: 2, memory_mb: 512, root_gb: 1 });
    expect(facts?.image_id).to.equal('img-1');
    expect(facts?.volumes.map((v) => [v.volume_id, v.device, v.driver_volume_type])).to.deep.equal([['vol-a', 'vdb', 'file'], ['vol-b', 'vdc', 'rbd']]);
    expect(facts?.ports.map((p) => [p.port_id, p.vif_type, p.device])).to.deep.equal([
      [PORT_ID, 'bridge', 'tap9f8e7d6c-5b'],
      ['aaaa1111-2222-4333-8444-555566667777', 'ovs', 'tapaaaa1111-22'],
    ]);
    const meta = one(d, 'metadata').children[0];
    expect(meta?.attrs['xmlns:hostwall']).to.equal(HOSTWALL_NS);
  });
});

describe('libvirt volume XML', () => {
  it('local and file: a file disk, or a block disk for /dev paths', () => {
    const f = parse(vol('file', { device_path: '/var/lib/v/vol-1' }).xml);
    expect(f.attrs).to.deep.include({ type: 'file', device: 'disk' });
    expect(one(f, 'source').attrs.file).to.equal('/var/lib/v/vol-1');
    expect(one(f, 'serial').text).to.equal('vol-1');
    expect(one(f, 'target').attrs).to.deep.equal({ dev: 'vdb', bus: 'virtio' });
    const b = parse(vol('local', { device_path: '/dev/mapper/vg-lv' }).xml);
    expect(b.attrs.type).to.equal('block');
    expect(one(b, 'source').attrs.dev).to.equal('/dev/mapper/vg-lv');
    expect(all(parse(vol('local', { device_path: '/x', access_mode: 'ro' }).xml), 'readonly')).to.have.length(1);
  });

  it('iscsi: network disk named iqn/lun on the portal, no auth without CHAP', () => {
    const v = vol('iscsi', { target_iqn: 'iqn.2010-10.org.openstack:volume-1', target_lun: 3, target_portal: '192.0.2.7:3261' });
    const d = parse(v.xml);
    expect(d.attrs.type).to.equal('network');
    expect(one(d, 'source').attrs).to.deep.equal({ protocol: 'iscsi', name: 'iqn.2010-10.org.openstack:volume-1/3' });
    expect(one(d, 'host').attrs).to.deep.equal({ name: '192.0.2.7', port: '3261' });
    expect(all(d, 'auth')).to.have.length(0);
    expect(v.secret).to.equal(undefined);
  });

  it('iscsi CHAP: a secret of usage iscsi referenced by usage; the password is nowhere in the XML', () => {
    const v = vol('iscsi', {
      target_iqn: 'iqn.x:vol', target_lun: 0, target_portal: '[2001:db8::1]:3260', auth_method: 'CHAP', auth_username: 'chapuser', auth_password: 's3cr3t-P@ss',
    });
    const d = parse(v.xml);
    expect(one(d, 'host').attrs).to.deep.equal({ name: '2001:db8::1', port: '3260' });
    expect(one(d, 'auth').attrs.username).to.equal('chapuser');
    expect(one(d, 'secret').attrs).to.deep.equal({ type: 'iscsi', usage: 'iqn.x:vol/0' });
    expect(v.secret?.usageType).to.equal('iscsi');
    expect(v.secret?.value().toString('utf8')).to.equal('s3cr3t-P@ss');
    const s = parse(v.secret?.xml ?? '');
    expect(s.attrs).to.deep.equal({ ephemeral: 'no', private: 'yes' });
    expect(one(s, 'target').text).to.equal('iqn.x:vol/0');
    for (const text of [v.xml, v.secret?.xml ?? '', JSON.stringify(v)]) expect(text).to.not.include('s3cr3t');
  });

  it('iscsi CHAP by reference: a libvirt secret named by secret_uuid, none defined, no password needed', () => {
    const ref = '11111111-2222-4333-8444-55555555AAAA';
    const v = vol('iscsi', { target_iqn: 'iqn.x:vol', target_lun: 0, target_portal: '192.0.2.7:3260', auth_method: 'CHAP', auth_username: 'chapuser', secret_uuid: ref });
    const d = parse(v.xml);
    expect(one(d, 'auth').attrs.username).to.equal('chapuser');
    expect(one(d, 'secret').attrs).to.deep.equal({ type: 'iscsi', uuid: ref.toLowerCase() });
    expect(v.secret, 'nothing for the driver to define').to.equal(undefined);
    expectFailure(() => vol('iscsi', { target_iqn: 'iqn.x:vol', target_portal: 'h:1', auth_method: 'CHAP', auth_username: 'u', secret_uuid: "x' /><evil/>" }), 'NOT_SUPPORTED', /secret_uuid/);
  });

  it('rbd: pool/image with every monitor, ceph auth by secret_uuid', () => {
    const v = vol('rbd', {
      name: 'volumes/volume-1', hosts: ['10.0.0.1', '10.0.0.2'], ports: ['6789', '6790'], auth_enabled: true, auth_username: 'cinder',
      secret_type: 'ceph', secret_uuid: '11111111-2222-4333-8444-555555555555',
    });
    const d = parse(v.xml);
    expect(one(d, 'source').attrs).to.deep.equal({ protocol: 'rbd', name: 'volumes/volume-1' });
    expect(all(d, 'host').map((h) => h.attrs)).to.deep.equal([{ name: '10.0.0.1', port: '6789' }, { name: '10.0.0.2', port: '6790' }]);
    expect(one(d, 'secret').attrs).to.deep.equal({ type: 'ceph', uuid: '11111111-2222-4333-8444-555555555555' });
    expect(v.secret).to.equal(undefined);
  });

  it('rbd with a key: a ceph secret is requested, the key kept out of every XML', () => {
    const key = 'AQBkZXJwYXNzd29yZGtleWtleWtleWtleQ==';
    const v = vol('rbd', { name: 'p/i', hosts: ['m'], ports: ['6789'], auth_enabled: true, auth_username: 'cinder', keyring: `[client.cinder]\n\tkey = ${key}\n` });
    expect(one(parse(v.xml), 'secret').attrs).to.deep.equal({ type: 'ceph', usage: 'hostwall-volume-vol-1' });
    expect(v.secret?.value().equals(Buffer.from(key, 'base64'))).to.equal(true);
    for (const text of [v.xml, v.secret?.xml ?? '', JSON.stringify(v)]) expect(text).to.not.include(key);
    expectFailure(() => vol('rbd', { name: 'p/i', auth_enabled: true, auth_username: 'cinder' }), 'NOT_SUPPORTED', /neither secret_uuid nor key/);
  });

  it("nfs: a file under os-brick's mount point (base + md5 of the export)", () => {
    // md5('10.0.0.9:/srv/nfs') as Python's hashlib computes it.
    expect(nfsMountPoint('/mnt/nfs', '10.0.0.9:/srv/nfs')).to.equal('/mnt/nfs/b54ac0a997a5f7f117cdac6a20995160');
    const d = parse(vol('nfs', { export: '10.0.0.9:/srv/nfs', name: 'volume-1', format: 'qcow2' }).xml);
    expect(one(d, 'source').attrs.file).to.equal('/mnt/nfs/b54ac0a997a5f7f117cdac6a20995160/volume-1');
    expect(one(d, 'driver').attrs.type).to.equal('qcow2');
  });

  it('refuses unknown types, encrypted volumes and missing keys, naming the problem', () => {
    expectFailure(() => vol('fibre_channel', {}), 'NOT_SUPPORTED', /'fibre_channel'/);
    expectFailure(() => vol('iscsi', { target_portal: 'h:1' }), 'NOT_SUPPORTED', /target_iqn/);
    expectFailure(() => vol('file', { device_path: '/x', encrypted: true }), 'NOT_SUPPORTED', /encrypted/);
  });

  it('chooses target devices like Nova: given names stripped of /dev, else the next free vdX', () => {
    expect(targetFromDeviceName('/dev/vdc')).to.equal('vdc');
    expect(targetFromDeviceName('vdc')).to.equal('vdc');
    expect(nextFreeTarget(['vda', 'vdb', 'vdd'])).to.equal('vdc');
    const az = 'abcdefghijklmnopqrstuvwxyz'.split('').map((c) => `vd${c}`);
    expect(nextFreeTarget(az)).to.equal('vdaa');
    expect(busForTarget('sdb')).to.equal('scsi');
    expect(parsePortal('host', '3260')).to.deep.equal({ host: 'host', port: '3260' });
    expect(parsePortal('fe80::1', '3260')).to.deep.equal({ host: 'fe80::1', port: '3260' });
  });
});

describe('libvirt interface XML', () => {
  it('bridge: source bridge, lower-case MAC, Nova tap name, virtio, MTU when given', () => {
    const n = interfaceDevice(port({ network: { bridge: 'br100', mtu: 1450 } }), opts);
    const d = parse(n.xml);
    expect(d.attrs.type).to.equal('bridge');
    expect(one(d, 'source').attrs.bridge).to.equal('br100');
    expect(one(d, 'mac').attrs.address).to.equal('fa:16:3e:aa:bb:cc');
    expect(one(d, 'target').attrs.dev).to.equal('tap9f8e7d6c-5b').and.to.equal(n.target);
    expect(one(d, 'model').attrs.type).to.equal('virtio');
    expect(one(d, 'mtu').attrs.size).to.equal('1450');
    expect(all(parse(interfaceDevice(port(), opts).xml), 'mtu')).to.have.length(0);
  });

  it('ovs: a bridge interface with an openvswitch virtualport carrying the port id', () => {
    const d = parse(interfaceDevice(port({ vif_type: 'ovs', network: { bridge: 'br-int' } }), opts).xml);
    expect(d.attrs.type).to.equal('bridge');
    expect(one(d, 'virtualport').attrs.type).to.equal('openvswitch');
    expect(one(d, 'parameters').attrs.interfaceid).to.equal(PORT_ID);
    expectFailure(() => interfaceDevice(port({ vif_type: 'ovs', port_id: 'not-a-uuid' }), opts), 'NOT_SUPPORTED', /UUID/);
  });

  it('tap and ethernet: an ethernet interface with only the tap target', () => {
    for (const vif of ['tap', 'ethernet'] as const) {
      const d = parse(interfaceDevice(port({ vif_type: vif }), opts).xml);
      expect(d.attrs.type).to.equal('ethernet');
      expect(all(d, 'source')).to.have.length(0);
      expect(one(d, 'target').attrs.dev).to.equal('tap9f8e7d6c-5b');
    }
  });

  it('vhostuser: a client-mode unix socket named vhu + 11 characters of the port id', () => {
    const d = parse(interfaceDevice(port({ vif_type: 'vhostuser' }), opts).xml);
    expect(d.attrs.type).to.equal('vhostuser');
    expect(one(d, 'source').attrs).to.deep.equal({ type: 'unix', path: '/run/ovs/vhu9f8e7d6c-5b', mode: 'client' });
  });

  it('refuses vnic types other than normal', () => {
    expectFailure(() => interfaceDevice(port({ vnic_type: 'direct' }), opts), 'NOT_SUPPORTED', /'direct'/);
    expect(() => interfaceDevice(port({ vnic_type: 'normal' }), opts)).to.not.throw();
  });
});

describe('libvirt metadata and XML editing', () => {
  const dom = "<domain type='test'>\n  <name>x</name>\n  <uuid>u</uuid>\n  <devices>\n    <disk type='file'><target dev='vda'/></disk>\n    <diskette/>\n  </devices>\n</domain>";

  it('adds our facts to a domain without them and replaces them in one that has them', () => {
    expect(readFacts(dom)).to.equal(undefined);
    const f = emptyFacts();
    f.volumes.push({ volume_id: 'v1', driver_volume_type: 'iscsi', device: 'vdb', secret: { usage_type: 'iscsi', usage_id: 'iqn/0' } });
    const once = withFacts(dom, f);
    parse(once);
    expect(readFacts(once)?.volumes).to.deep.equal(f.volumes);
    f.volumes = [];
    const twice = withFacts(once, f);
    expect(readFacts(twice)?.volumes).to.deep.equal([]);
    expect(twice.match(/hostwall:instance /g)).to.have.length(1);
  });

  it('reads facts whatever prefix libvirt bound to our namespace', () => {
    const bare = factsXml({ ...emptyFacts(), image_id: 'i' }, { bare: true }).replace(/<(\/?)/g, '<$1hw:').replace('<hw:instance>', `<hw:instance xmlns:hw="${HOSTWALL_NS}">`);
    expect(readFacts(`<domain><metadata>${bare}</metadata></domain>`)?.image_id).to.equal('i');
  });

  it('finds elements by exact tag and removes them cleanly', () => {
    const disks = findElements(dom, 'disk');
    expect(disks).to.have.length(1);
    const without = removeElement(dom, disks[0] ?? { text: '', start: 0, end: 0 });
    expect(findElements(without, 'disk')).to.have.length(0);
    expect(without).to.include('<diskette/>');
    parse(without);
  });
});
