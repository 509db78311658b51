/**
 * The guest's console output as Nova's libvirt driver and compute manager
 * return it for get_console_output:
 * - the log file libvirt writes for the guest's serial console (hostwall's
 *   spawn gives real guests `<serial type='pty'><log file='<instance
 *   dir>/console.log'/>`, as Nova does), else a `<console type='file'>`
 *   source;
 * - its last 100 KiB (Nova's MAX_CONSOLE_BYTES), continuing into the files
 *   virtlogd rotated out (console.log.0, .1, ... older each), oldest first;
 * - with tailLength, only the last tailLength lines (0 gives ''), as the
 *   compute manager's _tail_log;
 * - as ASCII, every byte above 0x7f replaced by U+FFFD (Python's
 *   decode('ascii', 'replace')).
 * A log file that does not exist (yet) gives '' (Nova: "console logfile for
 * instance does not exist"). One difference: Nova needs a running guest's pty
 * path to find the log and refuses a stopped guest; the log path is in the
 * persistent definition too, so a stopped guest's last output is returned.
 */
import { attrOf, childAttr, findElements } from './xml';

export const MAX_CONSOLE_BYTES = 100 * 1024;

export type ConsoleSource = { path: string } | { missing: 'no console' | 'console without a log file' };

/** Where the guest's console output is written, from its domain XML. */
export function consoleSource(domainXml: string): ConsoleSource {
  // Character devices only: a disk's <serial> (the volume id) has no type.
  const chardevs = [...findElements(domainXml, 'serial'), ...findElements(domainXml, 'console')].filter(
    (el) => attrOf(el.text, 'type') !== undefined,
  );
  for (const el of chardevs) {
    const log = childAttr(el.text, 'log', 'file');
    if (log) return { path: log };
  }
  for (const el of chardevs) {
    const source = attrOf(el.text, 'type') === 'file' ? childAttr(el.text, 'source', 'path') : undefined;
    if (source) return { path: source };
  }
  return { missing: chardevs.length > 0 ? 'console without a log file' : 'no console' };
}

/**
 * The last `n` bytes of a log file, or undefined if it does not exist. The
 * driver's reader checks the path (the instance's own directory, a regular
 * file) and reads off libuv's pool with a time bound (host-fs.ts).
 */
export type TailReader = (path: string, n: number) => Promise<Buffer | undefined>;

/** Up to `max` bytes from the end of the log and its rotated predecessors, in order. */
export async function readConsoleLog(logPath: string, read: TailReader, max = MAX_CONSOLE_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let left = max;
  for (let i = -1; left > 0; i++) {
    const data = await read(i < 0 ? logPath : `${logPath}.${i}`, left);
    if (data === undefined) break;
    parts.unshift(data);
    left -= data.length;
  }
  return Buffer.concat(parts);
}

/** Nova's _tail_log, then decode('ascii', 'replace'). */
export function consoleText(log: Buffer, tailLength?: number): string {
  // latin1 maps each byte to one char, so line splitting is on bytes.
  let text = log.toString('latin1');
  if (tailLength !== undefined) text = tailLength <= 0 ? '' : text.split('\n').slice(-tailLength).join('\n');
  return text.replace(/[\u0080-\u00ff]/g, '\uFFFD');
}
