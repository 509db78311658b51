import { expect } from 'chai';
import { RejectedError } from '../../src/errors';
import { checkSize, checkStructure } from '../../src/limits/message-limits';

const limits = { maxMessageBytes: 100, maxJsonDepth: 8, maxArrayLength: 5 };

function code(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RejectedError);
    return (err as RejectedError).code;
  }
  return 'none';
}

describe('limits: what a message may be before it is read', () => {
  it('refuses a body over the size limit before parsing it', () => {
    expect(code(() => checkSize(Buffer.alloc(101), limits))).to.equal('OVERSIZE');
    expect(code(() => checkSize(Buffer.alloc(100), limits))).to.equal('none');
  });

  it('refuses nesting deeper than the limit, without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 9; i++) deep = { a: deep };
    expect(code(() => checkStructure(deep, limits))).to.equal('OVERSIZE');
    let ok: unknown = 1;
    for (let i = 0; i < 8; i++) ok = [ok];
    expect(code(() => checkStructure(ok, limits))).to.equal('none');
    let huge: unknown = [];
    for (let i = 0; i < 200_000; i++) huge = [huge];
    expect(code(() => checkStructure(huge, { ...limits, maxJsonDepth: 1_000_000 }))).to.equal('none');
  });

  it('refuses arrays longer than the limit anywhere', () => {
    expect(code(() => checkStructure({ args: { x: [{ y: [1, 2, 3, 4, 5, 6] }] } }, limits))).to.equal('OVERSIZE');
  });

  it('refuses __proto__, constructor and prototype keys anywhere, as parsed from JSON', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const parsed: unknown = JSON.parse(`{"args": {"a": [{"${key}": {"polluted": true}}]}}`);
      expect(code(() => checkStructure(parsed, limits)), key).to.equal('INVALID_INTENT');
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });
});
