/**
 * The floor (bench phase 5): what any implementation of hostwall's promise
 * must do per power intent besides publishing its messages, done as plainly
 * as it can be, in the bare consumer's process.
 *
 * - the guest changed on the same hypervisor through the same FFI: libvirt's
 *   in-process test driver (`test:///default`) called inline on the JS
 *   thread, as hostwall calls it, for the same 200 guests defined from the
 *   same domain XML hostwall's spawn defines (src/drivers/libvirt/domain-xml.ts):
 *   look the guest up, read its state, the one action, read its state again,
 *   free the handle (4 calls; hostwall makes 5.3 on average: it also checks
 *   for a managed save before a start and re-reads state);
 * - the intent recorded durably around it, as the intent store promises
 *   (a `started` row committed before the hypervisor is touched, the outcome
 *   committed before the ack): SQLite in WAL mode, synchronous=NORMAL,
 *   exclusive locking, group commit per event-loop turn
 *   (src/store/write-batch.ts), the request and the outcome stored as JSON,
 *   and no checkpoint until the end.
 *
 * No schema validation, no scheduling lanes, no Nova state, no log line: the
 * difference between hostwall and this is hostwall's own work.
 */
import Database from 'better-sqlite3';
import { buildDomainXml } from '../src/drivers/libvirt/domain-xml';
import { type ConnectPtr, type DomainPtr, DomainState, libvirt } from '../src/drivers/libvirt/ffi';
import { powerStateOf } from '../src/drivers/libvirt/guest-state';
import { validateIntent } from '../src/intents/negotiation';
import { WriteBatch } from '../src/store/write-batch';

export class FloorWork {
  private readonly conn: ConnectPtr;
  private readonly db: Database.Database;
  private readonly batch: WriteBatch;
  private readonly insert: Database.Statement;
  private readonly finish: Database.Statement;

  constructor(uuids: readonly string[], storePath: string) {
    const { fn } = libvirt();
    const conn = fn.connectOpen('test:///default') as ConnectPtr | null;
    if (!conn) throw new Error('floor: virConnectOpen(test:///default) failed');
    this.conn = conn;
    for (const [i, uuid] of uuids.entries()) {
      // The spawn hostwall's bench sends (bench/common.ts spawnIntent), through the same schema and XML builder.
      const spawn = validateIntent('instance.spawn', undefined, { instance_uuid: uuid, name: `bench-${uuid.slice(0, 8)}`, flavor: { vcpus: 1, memory_mb: 64, root_gb: 0 } });
      if (spawn.kind !== 'instance.spawn') throw new Error('floor: not a spawn');
      const { xml } = buildDomainXml(spawn.args, { domainType: 'test', nfsMountBase: '/var/lib/hostwall/mnt', vhostuserSocketDir: '/var/run/openvswitch' });
      const dom = fn.domainDefineXML(conn, xml) as DomainPtr | null;
      if (!dom) throw new Error(`floor: defining guest ${i} failed`);
      if ((fn.domainCreateWithFlags(dom, 0) as number) < 0) throw new Error(`floor: starting guest ${i} failed`);
      fn.domainFree(dom);
    }
    this.db = new Database(storePath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('locking_mode = EXCLUSIVE');
    // No checkpoint during the run at all (hostwall runs them on a thread of its own): the lowest cost there is.
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.exec('CREATE TABLE intents (id TEXT PRIMARY KEY, kind TEXT NOT NULL, instance TEXT, request TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT, at TEXT NOT NULL)');
    this.insert = this.db.prepare("INSERT INTO intents (id, kind, instance, request, state, at) VALUES (?, ?, ?, ?, 'started', ?)");
    this.finish = this.db.prepare('UPDATE intents SET state = ?, outcome = ? WHERE id = ?');
    const tx = this.db.transaction((ops: readonly (() => void)[]) => {
      for (const op of ops) op();
    });
    this.batch = new WriteBatch((ops) => tx(ops));
  }

  /** The `started` row, committed. */
  started(id: string, kind: string, instance: string, request: string): Promise<void> {
    const at = new Date().toISOString();
    return this.batch.write(() => this.insert.run(id, kind, instance, request, at));
  }

  /** The power action on the guest, inline; its power state after. */
  apply(kind: string, uuid: string): string {
    const { fn } = libvirt();
    const dom = fn.domainLookupByUUIDString(this.conn, uuid) as DomainPtr | null;
    if (!dom) throw new Error(`floor: no guest ${uuid}`);
    try {
      const before = this.state(dom);
      let r = 0;
      if (kind === 'instance.power_off' && before !== DomainState.SHUTOFF) r = fn.domainShutdown(dom) as number;
      else if (kind === 'instance.power_on' && before === DomainState.SHUTOFF) r = fn.domainCreateWithFlags(dom, 0) as number;
      else if (kind === 'instance.reboot' && before === DomainState.RUNNING) r = fn.domainReboot(dom, 0) as number;
      if (r < 0) throw new Error(`floor: ${kind} on ${uuid} failed`);
      return powerStateOf(this.state(dom));
    } finally {
      fn.domainFree(dom);
    }
  }

  /** The outcome, committed. */
  finished(id: string, outcome: string): Promise<void> {
    return this.batch.write(() => this.finish.run('succeeded', outcome, id));
  }

  close(): void {
    this.batch.close();
    this.db.close();
    libvirt().fn.connectClose(this.conn);
  }

  private state(dom: DomainPtr): number {
    const state = [0];
    const reason = [0];
    if ((libvirt().fn.domainGetState(dom, state, reason, 0) as number) < 0) throw new Error('floor: virDomainGetState failed');
    return state[0] ?? 0;
  }
}
