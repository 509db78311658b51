import { expect } from 'chai';
import { PortReadiness } from '../../src/host-state/port-readiness';

describe('PortReadiness (the port-ready handshake)', () => {
  it('wakes a waiter when every port is ready', async () => {
    const pr = new PortReadiness({ memoryMs: 60_000 });
    const w = pr.wait(['p1', 'p2'], 5_000);
    expect(pr.signal('p1', 'completed')).to.equal(true);
    expect(pr.signal('p2', 'completed')).to.equal(true);
    expect(await w).to.deep.equal({ completed: ['p1', 'p2'], failed: [], missing: [] });
  });

  it('remembers a port.ready that arrives before anyone waits, and a wait consumes it', async () => {
    const pr = new PortReadiness({ memoryMs: 60_000 });
    expect(pr.signal('p1', 'completed')).to.equal(false);
    expect(pr.rememberedCount()).to.equal(1);
    expect(await pr.wait(['p1'], 5_000)).to.deep.equal({ completed: ['p1'], failed: [], missing: [] });
    expect(pr.rememberedCount()).to.equal(0);
  });

  it('forgets remembered signals after the memory period', () => {
    let now = 0;
    const pr = new PortReadiness({ memoryMs: 1_000, now: () => now });
    pr.signal('p1', 'completed');
    now = 2_000;
    expect(pr.rememberedCount()).to.equal(0);
  });

  it('reports ports without word by the deadline as missing, and failed ones as failed', async () => {
    const pr = new PortReadiness({ memoryMs: 60_000 });
    const w = pr.wait(['p1', 'p2'], 20);
    pr.signal('p1', 'failed');
    expect(await w).to.deep.equal({ completed: [], failed: ['p1'], missing: ['p2'] });
    // The expired waiter is gone: a late signal is remembered, not lost.
    expect(pr.signal('p2', 'completed')).to.equal(false);
  });
});
