/**
 * Where the time goes in a V8 .cpuprofile (node --cpu-prof): self time by
 * function, self and total (inclusive) time by file / package, and total time
 * of the parts the hot path is made of (zod, winston, amqplib, koffi, JSON,
 * hostwall's own directories). Positions in compiled hostwall code are mapped
 * back to the TypeScript source through the .js.map files tsc writes.
 *
 *   node dist/bench/profile-summary.js bench/profiles/worker-<id>.cpuprofile [--top 25] [--json]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  positionTicks?: { line: number; ticks: number }[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  wall_ms: number;
  busy_ms: number;
  idle_ms: number;
  gc_ms: number;
  selfByFunction: Row[];
  selfByFile: Row[];
  totalByFile: Row[];
  totalByPart: Row[];
  /** Inclusive time of each hostwall (src/) function. */
  totalBySrcFunction: Row[];
  /** Time spent in a dependency (zod, logging, SQLite, socket writes, koffi), by the hostwall function that called into it. */
  callers: Record<string, Row[]>;
}

/** Dependencies whose cost is worth attributing to the hostwall line that asked for it. */
type Frame = { fnKey: string; file: string; fn: string };
const isWrite = (file: string, fn: string) => file === '(native V8/builtin)' && /^write(Buffer|v|Utf8String|Latin1String|String)$/.test(fn);
const CALLEE_GROUPS: Record<string, (file: string, fn: string, stack: readonly Frame[]) => boolean> = {
  zod: (file) => file === 'zod',
  'logging (winston, logform, stderr write)': (file) =>
    ['winston', 'logform', 'winston-transport', 'readable-stream', 'safe-stable-stringify', '@colors/colors', 'node:internal/fs/sync_write_stream', 'src/log.ts'].includes(file),
  'better-sqlite3': (file) => file === 'better-sqlite3',
  'socket writes (amqplib frames to the broker)': (file, fn, stack) => isWrite(file, fn) && stack.some((x) => x.file === 'node:net'),
  'fd writes (log lines to stderr)': (file, fn, stack) => isWrite(file, fn) && !stack.some((x) => x.file === 'node:net'),
  'JSON.stringify': (file, fn) => file === '(native V8/builtin)' && fn === 'stringify',
  'JSON.parse': (file, fn) => file === '(native V8/builtin)' && fn === 'parse',
  structuredClone: (file, fn) => file === '(native V8/builtin)' && fn === 'structuredClone',
};

const REPO = path.resolve(__dirname, '..', '..');
const maps = new Map<string, SourceMap | undefined>();

function sourceMapFor(file: string): SourceMap | undefined {
  if (maps.has(file)) return maps.get(file);
  let sm: SourceMap | undefined;
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    try {
      sm = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
    } catch {
      sm = undefined;
    }
  }
  maps.set(file, sm);
  return sm;
}

/** "src/events/nova-notification.ts:190", "amqplib/lib/channel.js:12", "node:internal/…", or "(native)". */
function where(cf: CallFrame): { file: string; pos: string } {
  const url = cf.url;
  if (!url) return { file: '(native V8/builtin)', pos: '' };
  if (url.startsWith('node:')) return { file: url, pos: `${url}:${cf.lineNumber + 1}` };
  let abs = url;
  if (url.startsWith('file://')) abs = fileURLToPath(url);
  const nm = abs.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = abs.slice(nm + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? rest);
    return { file: pkg, pos: `${rest}:${cf.lineNumber + 1}` };
  }
  const sm = cf.lineNumber >= 0 ? sourceMapFor(abs) : undefined;
  const e = sm?.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (e?.originalSource) {
    const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : path.resolve(path.dirname(abs), e.originalSource);
    const rel = path.relative(REPO, src);
    return { file: rel, pos: `${rel}:${(e.originalLine ?? 0) + 1}` };
  }
  const rel = path.relative(REPO, abs);
  return { file: rel, pos: `${rel}:${cf.lineNumber + 1}` };
}

/** The part of the hot path a frame belongs to, for "total time under …". */
function partOf(file: string, fn: string): string | undefined {
  if (file === 'zod') return 'zod (validation)';
  if (file === 'winston' || file.startsWith('logform') || file === 'winston-transport' || file === 'readable-stream' || file === '@colors/colors' || file === 'safe-stable-stringify') return 'winston/logform (logging)';
  if (file === 'amqplib') return 'amqplib';
  if (file === 'koffi') return 'koffi';
  if (file.startsWith('src/')) return file.split('/').slice(0, 2).join('/');
  if (file === '(native V8/builtin)' && /^(parse|stringify)$/.test(fn)) return `JSON.${fn}`;
  return undefined;
}

const SPECIAL = new Set(['(garbage collector)', '(idle)', '(program)', '(root)']);

export function summarise(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // A sample lasts until the next one (DevTools' convention).
  const dur: number[] = [];
  for (let i = 0; i < p.samples.length; i++) {
    const next = p.timeDeltas[i + 1];
    dur.push((next ?? 0) / 1000);
  }
  const info = new Map<number, { fnKey: string; file: string; fn: string; part: string | undefined; special: string | undefined }>();
  const infoOf = (id: number) => {
    let v = info.get(id);
    if (v) return v;
    const n = byId.get(id);
    const cf = n?.callFrame ?? { functionName: '?', url: '', lineNumber: -1, columnNumber: -1 };
    const special = SPECIAL.has(cf.functionName) ? cf.functionName : undefined;
    const w = where(cf);
    const fn = cf.functionName || '(anonymous)';
    v = { fnKey: special ?? `${fn}  ${w.pos || w.file}`, file: special ?? w.file, fn: cf.functionName, part: partOf(w.file, cf.functionName), special };
    info.set(id, v);
    return v;
  };

  const selfFn = new Map<string, number>();
  const selfFile = new Map<string, number>();
  const totalFile = new Map<string, number>();
  const totalPart = new Map<string, number>();
  const totalSrcFn = new Map<string, number>();
  const callers = new Map<string, Map<string, number>>(Object.keys(CALLEE_GROUPS).map((g) => [g, new Map<string, number>()]));
  let idle = 0;
  let gc = 0;
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] ?? 0;
    const d = dur[i] ?? 0;
    total += d;
    const me = infoOf(id);
    if (me.special === '(idle)') {
      idle += d;
      continue;
    }
    if (me.special === '(garbage collector)') gc += d;
    add(selfFn, me.fnKey, d);
    add(selfFile, me.file, d);
    const files = new Set<string>();
    const parts = new Set<string>();
    const srcFns = new Set<string>();
    const stack: Frame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const x = infoOf(cur);
      if (x.special === '(root)') break;
      stack.push(x);
      files.add(x.file);
      if (x.part) parts.add(x.part);
      if (x.file.startsWith('src/')) srcFns.add(x.fnKey);
    }
    for (const f of files) add(totalFile, f, d);
    for (const part of parts) add(totalPart, part, d);
    for (const f of srcFns) add(totalSrcFn, f, d);
    // Leaf to root: the first frame in a group, then the nearest hostwall frame above it is who asked.
    for (const [group, inGroup] of Object.entries(CALLEE_GROUPS)) {
      const at = stack.findIndex((x) => inGroup(x.file, x.fn, stack));
      if (at < 0) continue;
      const caller = stack.slice(at + 1).find((x) => x.file.startsWith('src/') && !inGroup(x.file, x.fn, stack));
      const m = callers.get(group);
      if (m) add(m, caller?.fnKey ?? '(no hostwall caller)', d);
    }
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>, n: number): Row[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), pct: Math.round((1000 * ms) / Math.max(busy, 1)) / 10 }));
  return {
    file,
    wall_ms: Math.round((p.endTime - p.startTime) / 1000),
    busy_ms: Math.round(busy),
    idle_ms: Math.round(idle),
    gc_ms: Math.round(gc),
    selfByFunction: rows(selfFn, top),
    selfByFile: rows(selfFile, top),
    totalByFile: rows(totalFile, top),
    totalByPart: rows(totalPart, top),
    totalBySrcFunction: rows(totalSrcFn, top),
    callers: Object.fromEntries([...callers.entries()].map(([g, m]) => [g, rows(m, 8)])),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const table = (title: string, rs: Row[]) =>
    [`  ${title}`, ...rs.map((r) => `    ${String(r.ms).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}`)].join('\n');
  return [
    `profile ${path.relative(process.cwd(), s.file)}: wall ${s.wall_ms} ms, on CPU ${s.busy_ms} ms (idle ${s.idle_ms} ms, GC ${s.gc_ms} ms); % of on-CPU time`,
    table('self time by function (hostwall positions mapped to the .ts source)', s.selfByFunction),
    table('self time by file / package', s.selfByFile),
    table('total (inclusive) time by part', s.totalByPart),
    table('total (inclusive) time by file / package', s.totalByFile),
    table('total (inclusive) time by hostwall function', s.totalBySrcFunction),
    ...Object.entries(s.callers)
      .filter(([, rs]) => rs.length > 0)
      .map(([g, rs]) => table(`${g}: ${rs.reduce((a, r) => a + r.ms, 0)} ms+ in all, by the hostwall function that called it`, rs)),
  ].join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--top');
  const topIdx = args.indexOf('--top');
  const top = topIdx >= 0 ? Number(args[topIdx + 1] ?? 25) : 25;
  if (!file) {
    console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [--top N] [--json]');
    process.exit(2);
  }
  const s = summarise(file, top);
  console.log(args.includes('--json') ? JSON.stringify(s, null, 2) : formatSummary(s));
}
