import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createLogger, forIntent, TurnBatchedStream } from '../../src/log';
import { LogFile, reopenLogFiles } from '../../src/log-file';

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

  it('names the intent, its request, issuer, instance and host on every intent line', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (b: Buffer) => lines.push(b.toString()));
    const log = forIntent(createLogger({ level: 'info', format: 'json', stream: out }).child({ host: 'compute-1' }), {
      intent_id: 'i1', request_id: 'req-1', global_request_id: 'req-g', issuer: 'nova', instance_uuid: 'u1', kind: 'instance.reboot',
    });
    log.info('succeeded');
    forIntent(createLogger({ level: 'info', format: 'json', stream: out }), { intent_id: 'i2' }).info('no facts');
    await nextTurn();
    const [full, bare] = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(full).to.include({ intent_id: 'i1', request_id: 'req-1', global_request_id: 'req-g', issuer: 'nova', instance_uuid: 'u1', host: 'compute-1', kind: 'instance.reboot' });
    // Absent facts are null: every intent line has the same keys.
    expect(bare).to.include({ intent_id: 'i2', request_id: null, global_request_id: null, issuer: null, instance_uuid: null });
  });

  it('colours a TTY unless NO_COLOR is set', async () => {
    const tty = () => Object.assign(new PassThrough(), { isTTY: true });
    const text = async (env: NodeJS.ProcessEnv) => {
      const out = tty();
      const chunks: string[] = [];
      out.on('data', (b: Buffer) => chunks.push(b.toString()));
      createLogger({ level: 'info', format: 'auto', stream: out, env }).info('hello');
      await nextTurn();
      return chunks.join('');
    };
    expect(await text({})).to.contain('\u001b[');
    expect(await text({ NO_COLOR: '1' })).to.contain('info hello').and.not.contain('\u001b[');
    // no-color.org: an empty NO_COLOR does not count.
    expect(await text({ NO_COLOR: '' })).to.contain('\u001b[');
  });

  it('appends to --log-file and, after logrotate moved it, writes a new one once reopened (SIGHUP)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hw-log-'));
    const file = path.join(dir, 'hostwall.log');
    const log = createLogger({ level: 'info', format: 'auto', file });
    log.info('before rotation');
    await nextTurn();
    renameSync(file, `${file}.1`);
    log.info('after rotation, before reopen');
    await nextTurn();
    expect(reopenLogFiles()).to.deep.equal([]);
    log.info('after reopen');
    await nextTurn();
    expect(readFileSync(`${file}.1`, 'utf8')).to.contain('before rotation').and.contain('after rotation, before reopen');
    // Not a TTY: JSON lines, whatever "auto" would do on a terminal.
    expect(JSON.parse(readFileSync(file, 'utf8'))).to.include({ message: 'after reopen', level: 'info' });
    for (const f of LogFile.all) if (f.path === file) f.end();
  });

  it('refuses a log file it cannot open, naming it', () => {
    expect(() => createLogger({ level: 'info', format: 'json', file: '/nonexistent-hostwall-dir/nope.log' })).to.throw(/log file \/nonexistent-hostwall-dir\/nope\.log: ENOENT/);
  });
});
