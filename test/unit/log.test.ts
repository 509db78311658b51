import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createLogger, TurnBatchedStream } from '../../src/log';

describe('log', () => {
  it('hands a turn’s lines to the target in one write, in order', async () => {
    const writes: string[] = [];
    const target = new PassThrough();
    target.on('data', (b: Buffer) => writes.push(b.toString()));
    const s = new TurnBatchedStream(target);
    s.write('a\n');
    s.write('b\n');
    s.write('c\n');
    expect(writes).to.deep.equal([]);
    await nextTurn();
    await nextTurn();
    expect(writes).to.deep.equal(['a\nb\nc\n']);
    s.write('d\n');
    s.end();
    await nextTurn();
    expect(writes).to.deep.equal(['a\nb\nc\n', 'd\n']);
  });

  it('writes what is pending when the process exits in the same turn', () => {
    const logModule = path.resolve(__dirname, '..', '..', 'src', 'log.js');
    const script = `const { createLogger } = require(${JSON.stringify(logModule)});
      const log = createLogger({ level: 'info', format: 'json' });
      log.info('last words', { intent_id: 'x1' });
      process.exit(3);`;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(stderr).to.match(/"message":"last words"/);
  });

  it('writes text from messages as one line without escape sequences, in both formats', async () => {
    const hostile = 'x\u001b[2J\r\n2099-01-01T00:00:00.000Z info FORGED\u202e\u009b';
    for (const format of ['json', 'pretty'] as const) {
      const out = new PassThrough();
      let text = '';
      out.on('data', (b: Buffer) => {
        text += b.toString();
      });
      const log = createLogger({ level: 'info', format, stream: out });
      log.warn(`rejected: unknown issuer "${hostile}"`, { issuer: hostile });
      await nextTurn();
      const [line, ...more] = text.split('\n').filter((l) => l !== '');
      expect(more, format).to.deep.equal([]);
      // pretty colours the level (ESC [ n m); nothing else may reach the terminal.
      const shown = (line ?? '').replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g'), '');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
      expect(shown, format).to.not.match(/[\u0000-\u001f\u007f-\u009f\u202e]/);
      expect(shown, format).to.contain('FORGED');
      if (format === 'json') expect(JSON.parse(shown)).to.include({ issuer: hostile });
    }
  });

  it('redacts secrets before any output', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (b: Buffer) => lines.push(b.toString()));
    const log = createLogger({ level: 'info', format: 'json', stream: out });
    log.info('attach', { connection_info: { data: { auth_password: 'hunter2', target_iqn: 'iqn.x' } } });
    await nextTurn();
    expect(lines.join('')).to.include('iqn.x').and.not.include('hunter2');
  });
});
