/**
 * Runs scripts/nova-control-plane.sh (from the source tree, found relative to
 * this module's compiled place, dist/test/support/nova-cp/). Every run has a
 * timeout; exit status 3 (the Debian packages cannot be installed) becomes
 * PACKAGES_UNAVAILABLE, any other failure SCRIPT_FAILED with stderr's end.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ControlPlaneError } from './errors';

export const CONTROL_PLANE_SCRIPT = join(__dirname, '..', '..', '..', '..', 'scripts', 'nova-control-plane.sh');

export interface ScriptResult {
  stdout: string;
  stderr: string;
}

export function runScript(args: readonly string[], timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    execFile('bash', [CONTROL_PLANE_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGTERM' }, (err, stdout, stderr) => {
      if (!err) {
        resolve({ stdout, stderr });
        return;
      }
      const code = typeof err.code === 'number' ? err.code : undefined;
      if (code === 3) {
        reject(new ControlPlaneError('PACKAGES_UNAVAILABLE', `the Debian packages of the Nova control plane cannot be installed: ${stderr.trim().split('\n').slice(-3).join(' / ')}`));
        return;
      }
      const why = err.killed ? `killed after ${timeoutMs} ms` : `exit ${err.code ?? err.signal}`;
      reject(new ControlPlaneError('SCRIPT_FAILED', `nova-control-plane.sh ${args.join(' ')}: ${why}\n${stderr.slice(-4000)}`, { args }));
    });
  });
}
