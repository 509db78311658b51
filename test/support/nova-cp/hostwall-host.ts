/**
 * hostwall as a compute host of the control plane: `hostwall worker
 * --config-file <the host's nova-compute.conf>`, the very file Debian's
 * nova-compute reads (scripts/nova-cp/compute-conf.sh), plus a [hostwall]
 * section for what only hostwall has (the libvirt URI, shorter watch delays
 * for tests). The broker URL comes from the file's transport_url.
 */
import { appendFileSync } from 'node:fs';
import { startWorkerProcess, type WorkerProcess } from '../worker-process';
import type { ComputeHost, ComputeHostHandle } from './compute-host';
import { writeComputeConf } from './compute-host';

export interface HostwallHostHandle extends ComputeHostHandle {
  readonly conf: string;
  readonly worker: WorkerProcess;
  /** SIGKILL: no drain, no goodbye (the service record stops beating). */
  kill(): Promise<void>;
}

/** `extra` is appended to the file: `[hostwall]` keys and anything else a test needs. */
export function hostwallComputeHost(extra = ''): ComputeHost & { startHost(host: string): Promise<HostwallHostHandle>; restart(h: HostwallHostHandle): Promise<HostwallHostHandle> } {
  const launch = async (host: string, conf: string): Promise<HostwallHostHandle> => {
    // AMQP_URL empty: the file's transport_url decides, as it would for an operator.
    const worker = await startWorkerProcess(host, { AMQP_URL: '', HOSTWALL_LOG_LEVEL: 'info' }, ['--config-file', conf]);
    return {
      host, conf, worker,
      stop: async () => {
        await worker.stop();
      },
      kill: async () => {
        if (worker.child.exitCode !== null) return;
        const gone = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
        worker.child.kill('SIGKILL');
        await gone;
      },
    };
  };
  return {
    name: 'hostwall',
    async start(host) {
      return this.startHost(host);
    },
    async startHost(host) {
      const conf = await writeComputeConf(host);
      if (extra) appendFileSync(conf, `\n${extra}\n`);
      return launch(host, conf);
    },
    restart: (h) => launch(h.host, h.conf),
  };
}
