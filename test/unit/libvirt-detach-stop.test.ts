import { expect } from 'chai';
import type { HostPathPolicy } from '../../src/drivers/host-paths';
import type { Connection } from '../../src/drivers/libvirt/connection';
import { type DeviceSettings, detachVolume } from '../../src/drivers/libvirt/devices';
import { DomainState, type DomainPtr } from '../../src/drivers/libvirt/ffi';
import { emptyFacts, withFacts } from '../../src/drivers/libvirt/metadata';
import { IntentFailure, StoppingError } from '../../src/errors';

const VOLUME = '6f1f5c1e-0d7e-4a57-9d1e-2b8a8d1f0c11';
const DISK = `<disk type='block' device='disk'><source dev='/dev/sdx'/><target dev='vdb' bus='virtio'/><serial>${VOLUME}</serial></disk>`;
const bare = (devices: string) => `<domain type='test'><name>g</name><uuid>0b8c6a8e-9d43-4d0e-bd0a-57c1b0f9a2aa</uuid><devices>${devices}</devices></domain>`;

/**
 * A running guest holding an iSCSI volume with a CHAP secret hostwall made.
 * `releases`: whether the guest lets go of the device when asked; `detach`:
 * what libvirt's detach call does.
 */
function guest(opts: { releases: boolean; detach?: () => Promise<void> }) {
  const facts = emptyFacts();
  facts.volumes.push({ volume_id: VOLUME, driver_volume_type: 'iscsi', device: 'vdb', secret: { usage_type: 'iscsi', usage_id: 'iqn.2010-10.org.openstack:volume-x' } });
  let config = withFacts(bare(DISK), facts);
  let live = config;
  const undefined_: string[] = [];
  let polls = 0;
  const c = {
    domainState: async () => DomainState.RUNNING,
    domainXml: async (_d: DomainPtr, flags: number) => {
      if (flags & 2 /* XML_INACTIVE */) return config;
      polls++;
      return live;
    },
    detachDevice: opts.detach ?? (async () => {
      config = withFacts(bare(''), emptyFacts());
      if (opts.releases) live = config;
    }),
    setMetadata: async () => undefined,
    findSecret: async (_t: number, usage: string) => ({ usage }),
    undefineSecret: async (s: { usage: string }) => {
      undefined_.push(s.usage);
    },
    freeSecret: () => undefined,
  } as unknown as Connection;
  return { c, undefined_, polls: () => polls };
}

function settings(): DeviceSettings {
  return { nfsMountBase: '/var/lib/nova/mnt', paths: {} as HostPathPolicy, vhostuserSocketDir: '/run', hotplug: undefined, detachTimeoutMs: 3_600_000 };
}

describe('libvirt volume detach and the worker stop', () => {
  it('a detach whose wait for the guest is cut short by the stop still deletes the secret it made (a retry finds nothing to detach)', async () => {
    const g = guest({ releases: false });
    const force = new AbortController();
    const detach = detachVolume(g.c, 1n as unknown as DomainPtr, settings(), VOLUME, force.signal).then(() => undefined, (e: unknown) => e);
    while (g.polls() < 2) await new Promise((r) => setImmediate(r));
    force.abort();
    expect(await detach).to.be.instanceOf(StoppingError);
    expect(g.undefined_).to.deep.equal(['iqn.2010-10.org.openstack:volume-x']);
  });

  it('a detach the guest completes deletes the secret once', async () => {
    const g = guest({ releases: true });
    expect(await detachVolume(g.c, 1n as unknown as DomainPtr, settings(), VOLUME)).to.deep.equal({ live: true, device: 'vdb' });
    expect(g.undefined_).to.have.length(1);
  });

  it('a detach that fails before the device is removed keeps the secret the guest still needs', async () => {
    const g = guest({ releases: false, detach: async () => Promise.reject(new IntentFailure('HYPERVISOR_UNAVAILABLE', 'refused')) });
    const err = await detachVolume(g.c, 1n as unknown as DomainPtr, settings(), VOLUME).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(IntentFailure);
    expect(g.undefined_).to.deep.equal([]);
  });
});
