/**
 * Reading and writing the tiny guest's serial console in tests. What the
 * guest prints is listed at the top of init.sh: lines that start with
 * "TINYGUEST ", among the kernel's own.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { attrOf, childAttr, findElements } from '../../../src/drivers/libvirt/xml';

const PREFIX = 'TINYGUEST ';

/** The guest's own lines, without the prefix, in order. */
export function guestLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.startsWith(PREFIX))
    .map((l) => l.slice(PREFIX.length));
}

/** How many lines start with `word` (BOOT, READY, POWER-BUTTON...). */
export function count(text: string, word: string): number {
  return guestLines(text).filter((l) => l === word || l.startsWith(`${word} `)).length;
}

/** The counter values printed, in order. */
export function counters(text: string): number[] {
  return guestLines(text).flatMap((l) => {
    const m = /^counter=(\d+) /.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

/**
 * Read the console (an intent, the driver) until `done(text)` holds. Polled:
 * the console is a file virtlogd appends to, with no event to wait on. The
 * error shows the guest's last lines.
 */
export async function waitForConsole(read: () => Promise<string>, done: (text: string) => boolean, what: string, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await read();
    if (done(text)) return text;
    if (Date.now() > deadline) throw new Error(`guest console: no ${what} within ${timeoutMs} ms; it shows:\n${text.split('\n').slice(-30).join('\n')}`);
    await sleep(200);
  }
}

/**
 * Type a line on the guest's serial console, as an operator at `virsh
 * console` would, and keep the console open until `done()` settles: written
 * to the pty QEMU gives the serial port (its path is in the running
 * definition). QEMU reads the pty only while someone holds it open (it
 * checks every second), so closing straight after the write would leave the
 * line unread. init.sh reads the line (poweroff, reboot).
 */
export async function typeOnConsole<T>(liveXml: string, line: string, done: () => Promise<T>): Promise<T> {
  const pty = findElements(liveXml, 'serial')
    .filter((s) => attrOf(s.text, 'type') === 'pty')
    .map((s) => childAttr(s.text, 'source', 'path'))
    .find((p) => p !== undefined);
  if (!pty) throw new Error('the running guest has no serial pty');
  const fh = await fs.open(pty, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
  try {
    await fh.write(`${line}\n`);
    return await done();
  } finally {
    // EIO once QEMU is gone (the guest powered off): nothing left to close on its side.
    await fh.close().catch(() => undefined);
  }
}
