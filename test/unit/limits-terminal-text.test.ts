import { expect } from 'chai';
import { printable } from '../../src/limits/terminal-text';

describe('terminal text', () => {
  it('escapes what a terminal acts on, as JSON spells it, and leaves the rest as it was', () => {
    expect(printable('plain text, ünïcödé, 雪 and \\ as sent')).to.equal('plain text, ünïcödé, 雪 and \\ as sent');
    expect(printable('a\nb\rc\td')).to.equal('a\\nb\\rc\\td');
    expect(printable('\u001b[2J\u001b]0;title\u0007')).to.equal('\\u001b[2J\\u001b]0;title\\u0007');
    expect(printable('\u007f\u0085\u009b31m')).to.equal('\\u007f\\u0085\\u009b31m');
    expect(printable('abc\u202edcba\u2066x\u2069\u2028')).to.equal('abc\\u202edcba\\u2066x\\u2069\\u2028');
  });

  it('keeps escaped JSON the same JSON', () => {
    const value = { m: 'x\u0085\u202e\u2028y\n' };
    expect(JSON.parse(printable(JSON.stringify(value)))).to.deep.equal(value);
  });
});
