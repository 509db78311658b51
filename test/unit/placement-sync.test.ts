import { expect } from 'chai';
import { ProviderSpec } from '../../src/adapters/nova/placement/bodies';
import { compareVersions } from '../../src/adapters/nova/placement/client';
import { desiredInventories, desiredTraits, inventoriesDiffer, traitsDiffer } from '../../src/adapters/nova/placement/provider-sync';

const inventories = (spec: Record<string, Record<string, number>>) => desiredInventories(ProviderSpec.parse({ uuid: '14c3ea28-784d-420d-a399-c71e699f198f', name: 'h', inventories: spec, traits: [] }).inventories);

describe('placement provider sync: what to write', () => {
  it('fills in nova\'s inventory defaults and leaves out a class of total 0', () => {
    expect(inventories({ VCPU: { total: 4, allocation_ratio: 16 }, DISK_GB: { total: 0 } })).to.deep.equal({
      VCPU: { total: 4, reserved: 0, min_unit: 1, max_unit: 4, step_size: 1, allocation_ratio: 16 },
    });
  });

  it('sees a changed field, an added or a removed class, and not a ratio that came back in single precision', () => {
    const base = inventories({ VCPU: { total: 4, allocation_ratio: 1.2 }, MEMORY_MB: { total: 2048 } });
    expect(inventoriesDiffer(base, inventories({ VCPU: { total: 4, allocation_ratio: 1.2 }, MEMORY_MB: { total: 2048 } }))).to.equal(false);
    expect(inventoriesDiffer(base, inventories({ VCPU: { total: 4, allocation_ratio: 1.2 }, MEMORY_MB: { total: 2048, reserved: 1 } }))).to.equal(true);
    expect(inventoriesDiffer(base, inventories({ VCPU: { total: 4, allocation_ratio: 1.2 } }))).to.equal(true);
    expect(inventoriesDiffer(base, inventories({ VCPU: { total: 4, allocation_ratio: 1.2 }, MEMORY_MB: { total: 2048 }, DISK_GB: { total: 1 } }))).to.equal(true);
    const single = { ...base, VCPU: { ...(base['VCPU'] ?? { total: 0, reserved: 0, min_unit: 1, max_unit: 1, step_size: 1 }), allocation_ratio: Math.fround(1.2) } };
    expect(inventoriesDiffer(single, base)).to.equal(false);
    expect(inventoriesDiffer({ ...base, VCPU: { ...single.VCPU, allocation_ratio: 1.25 } }, base)).to.equal(true);
  });

  it('adds the spec\'s traits, removes absentTraits, keeps the others', () => {
    const current = ['COMPUTE_NODE', 'CUSTOM_GOLD', 'COMPUTE_VOLUME_EXTEND'];
    const next = desiredTraits(current, { traits: ['COMPUTE_NODE', 'COMPUTE_DEVICE_TAGGING'], absentTraits: ['COMPUTE_VOLUME_EXTEND'] });
    expect(next).to.deep.equal(['CUSTOM_GOLD', 'COMPUTE_NODE', 'COMPUTE_DEVICE_TAGGING']);
    expect(traitsDiffer(current, next)).to.equal(true);
    expect(traitsDiffer(['A', 'B'], ['B', 'A'])).to.equal(false);
    expect(desiredTraits([], { traits: ['B', 'A', 'B'], absentTraits: [] }), 'the spec\'s order, once each').to.deep.equal(['B', 'A']);
  });

  it('compares microversions by number, not as text', () => {
    expect(compareVersions('1.39', '1.28')).to.be.greaterThan(0);
    expect(compareVersions('1.6', '1.28')).to.be.lessThan(0);
    expect(compareVersions('1.28', '1.28')).to.equal(0);
    expect(compareVersions('2.0', '1.99')).to.be.greaterThan(0);
  });
});
