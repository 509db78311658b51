import { expect } from 'chai';
import { loadConfig } from '../../src/config';
import { applyProcessSettings } from '../../src/worker/process-settings';

describe('worker: process settings', () => {
  it('sets V8 heap growth from heapGrowthPercent, and nothing at 0', () => {
    const set: string[] = [];
    applyProcessSettings(loadConfig({ env: {}, flags: {} }), (f) => set.push(f));
    expect(set).to.deep.equal(['--heap-growing-percent=100']);
    expect(applyProcessSettings({ heapGrowthPercent: 0 }, (f) => set.push(f))).to.deep.equal([]);
    expect(set).to.have.length(1);
  });
});
