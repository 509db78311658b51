/**
 * The host's uptime line, as Nova's libvirt driver answers get_host_uptime:
 * the stdout of `env LANG=C uptime`, trailing newline included
 * (" 09:17:26 up 51 min,  0 user,  load average: 0.31, 3.08, 3.74\n").
 * Not libvirt's business, but Nova asks the virt driver, so the driver does.
 */
import { execFile } from 'node:child_process';
import { IntentFailure } from '../errors';

/** uptime reads two /proc files; anything slower than this is a sick host. */
const UPTIME_TIMEOUT_MS = 5000;

export function hostUptime(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('env', ['LANG=C', 'uptime'], { timeout: UPTIME_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new IntentFailure('INTERNAL', `uptime failed: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}
