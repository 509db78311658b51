/**
 * get_console_output as Nova answers it: where the log is (domain XML), the
 * last 100 KiB across virtlogd's rotated files, the compute manager's
 * _tail_log, ASCII with replacement; and the console log spawn asks for.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { HostFs } from '../../src/drivers/host-fs';
import { consoleSource, consoleText, MAX_CONSOLE_BYTES, readConsoleLog } from '../../src/drivers/libvirt/console-log';
import { buildDomainXml } from '../../src/drivers/libvirt/domain-xml';
import { childAttr, findElements } from '../../src/drivers/libvirt/xml';

const domain = (devices: string) => `<domain type='kvm'><name>x</name><devices>${devices}</devices></domain>`;

describe('libvirt console log', () => {
  it('finds the serial console’s log file, not a disk’s <serial>', () => {
    const xml = domain(
      "<disk type='file' device='disk'><source file='/v'/><target dev='vdb'/><serial>vol-1</serial></disk>" +
        "<serial type='pty'><source path='/dev/pts/3'/><log file='/inst/u/console.log' append='off'/><target port='0'/></serial>" +
        "<console type='pty' tty='/dev/pts/3'><source path='/dev/pts/3'/><target type='serial' port='0'/></console>",
    );
    expect(consoleSource(xml)).to.deep.equal({ path: '/inst/u/console.log' });
  });

  it('falls back to a file console’s source, and says why when there is nothing to read', () => {
    expect(consoleSource(domain("<console type='file'><source path='/var/log/c.log'/><target type='serial'/></console>"))).to.deep.equal({
      path: '/var/log/c.log',
    });
    expect(consoleSource(domain("<serial type='pty'><target port='0'/></serial>"))).to.deep.equal({ missing: 'console without a log file' });
    expect(consoleSource(domain("<disk type='file'><serial>vol-1</serial></disk>"))).to.deep.equal({ missing: 'no console' });
  });

  it('reads the last 100 KiB across rotated files, oldest first; a missing log is empty', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hostwall-console-'));
    const hostFs = new HostFs(5_000);
    const tail = (p: string, n: number) => hostFs.read(p, -n, n);
    try {
      const log = path.join(dir, 'console.log');
      expect((await readConsoleLog(log, tail)).length).to.equal(0);
      await fs.writeFile(`${log}.1`, 'A'.repeat(MAX_CONSOLE_BYTES));
      await fs.writeFile(`${log}.0`, 'older\n');
      await fs.writeFile(log, 'newest\n');
      const out = await readConsoleLog(log, tail);
      expect(out.length).to.equal(MAX_CONSOLE_BYTES);
      expect(out.toString('latin1').endsWith('Aolder\nnewest\n')).to.equal(true);
      expect((await readConsoleLog(log, tail, 10)).toString()).to.equal('er\nnewest\n');
    } finally {
      await hostFs.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('tails lines as Nova’s _tail_log and decodes as ASCII with replacement', () => {
    const log = Buffer.concat([Buffer.from('one\ntwo caf'), Buffer.from([0xc3, 0xa9]), Buffer.from('\nthree\n')]);
    expect(consoleText(log)).to.equal('one\ntwo caf\uFFFD\uFFFD\nthree\n');
    expect(consoleText(log, 2)).to.equal('three\n');
    expect(consoleText(log, 3)).to.equal('two caf\uFFFD\uFFFD\nthree\n');
    expect(consoleText(log, 0)).to.equal('');
    expect(consoleText(log, 100)).to.equal(consoleText(log));
  });

  it('gives a qemu/kvm guest a serial console logged to the path asked for, and a test guest none', () => {
    const spec = { instance_uuid: '11111111-2222-4333-8444-555555555555', name: 'i-1', flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } };
    const opts = { nfsMountBase: '/mnt', vhostuserSocketDir: '/run/ovs', consoleLog: "/inst/it's/console.log" };
    const kvm = buildDomainXml(spec, { ...opts, domainType: 'kvm' }).xml;
    const serial = findElements(kvm, 'serial')[0];
    expect(childAttr(serial?.text ?? '', 'log', 'file')).to.equal("/inst/it's/console.log");
    expect(childAttr(serial?.text ?? '', 'log', 'append')).to.equal('off');
    expect(consoleSource(kvm)).to.deep.equal({ path: "/inst/it's/console.log" });
    expect(findElements(buildDomainXml(spec, { ...opts, domainType: 'test' }).xml, 'serial')).to.have.length(0);
  });
});
