import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = join(__dirname, '..', '..', '..', 'src');

/**
 * The layers of src/, lowest first: a file may import from its own layer or
 * a lower one, never from a higher one. An entry is a folder (trailing `/`)
 * or a file under src/; a file belongs to the longest entry that contains it,
 * so `adapters/nova/compute-host/` sits above dispatch while the rest of
 * `adapters/nova/` sits below it. Why each layer is where it is:
 *
 * - errors, version: leaves every layer may use.
 * - limits, log-file, then log (which cuts its fields with limits).
 * - intents, and the events' schemas: what may be asked and what is told;
 *   the event schemas use only the intents' state vocabulary (the builders,
 *   which read the instance view, are higher, in events/).
 * - transport, policy, serializer: bytes and acks, who may send what, lanes;
 *   none of them knows what an intent does.
 * - drivers: the hypervisor, below the config that names its defaults
 *   (config.ts reads drivers/host-paths.ts).
 * - config: compiled settings (reads transport's broker URLs, the drivers' default paths).
 * - config-docs, drivers/libvirt/options.ts (the driver's options compiled
 *   from the config), store (the intent store and the journal), oslo (the wire
 *   format): each reads the config or the transport's types.
 * - adapters/nova: Nova's requests translated into intents, over oslo.
 * - host-state: what the worker keeps about the host (instance book, learnt
 *   port bindings and connection_info, port readiness); it learns from Nova's
 *   objects, so it sits above the Nova adapter.
 * - dispatch: decode → admit → serialize → driver → outcome, over host-state,
 *   the store, the drivers; it defines the ports (Wire, EventSink) that the
 *   layers above fill in.
 * - oslo/wire, events, client: the adapters of dispatch's ports (the oslo
 *   wire, the bus event sink and the events it builds from the instance view)
 *   and the oslo intent client.
 * - worker, replay, schemas-export: the composition root and the tools that
 *   read its dead letters and journal; worker/companion.ts is what a
 *   companion (the Nova compute host) plugs into.
 * - adapters/nova/compute-host: Nova's compute-host duties, a worker
 *   companion; with it adapters/nova/nova-conf.ts, which reads nova.conf into
 *   both hostwall's settings and the compute host's.
 * - cli: one file per command, on top of everything.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'version.ts'],
  ['limits/', 'log-file.ts'],
  ['log.ts'],
  ['intents/', 'events/schemas.ts', 'events/nova-schemas.ts'],
  ['transport/', 'policy/', 'serializer/'],
  ['drivers/'],
  ['config.ts'],
  ['config-docs.ts', 'drivers/libvirt/options.ts', 'store/', 'oslo/'],
  ['adapters/nova/'],
  ['host-state/'],
  ['dispatch/'],
  ['oslo/wire/', 'events/', 'client/'],
  ['worker/', 'replay/', 'schemas-export/'],
  ['adapters/nova/compute-host/', 'adapters/nova/nova-conf.ts'],
  ['cli/'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The layer of a file under src/ (its path relative to src/, with `/`), or undefined when no entry holds it. */
function layerOf(file: string): { index: number; entry: string } | undefined {
  let best: { index: number; entry: string } | undefined;
  LAYERS.forEach((entries, index) => {
    for (const entry of entries) {
      const holds = entry.endsWith('/') ? file.startsWith(entry) : file === entry;
      if (holds && (best === undefined || entry.length > best.entry.length)) best = { index, entry };
    }
  });
  return best;
}

/** Relative module specifiers of a file: static imports and re-exports (type-only included), dynamic imports. */
function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)) specs.push(m[2] as string);
  return specs;
}

/** The file under src/ that a relative specifier names (a folder means its index.ts). */
function targetOf(fromFile: string, spec: string, known: ReadonlySet<string>): string | undefined {
  const base = relative(SRC, resolve(dirname(join(SRC, fromFile)), spec)).split('\\').join('/');
  return [`${base}.ts`, `${base}/index.ts`, base].find((c) => known.has(c));
}

describe('layering of src/', () => {
  const files = sourceFiles(SRC).map((f) => relative(SRC, f).split('\\').join('/'));
  const known = new Set(files);

  it('gives every file of src/ a layer (a new folder must be given its place)', () => {
    expect(files.filter((f) => layerOf(f) === undefined)).to.deep.equal([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    const offending: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      if (!from) continue;
      for (const spec of importsOf(readFileSync(join(SRC, file), 'utf8'))) {
        const target = targetOf(file, spec, known);
        const to = target === undefined ? undefined : layerOf(target);
        if (target === undefined || to === undefined) continue;
        if (to.index > from.index) offending.push(`src/${file} (${from.entry}) imports src/${target} (${to.entry}, a higher layer)`);
      }
    }
    expect(offending).to.deep.equal([]);
  });

  it('sees a higher import as offending', () => {
    const from = layerOf('dispatch/dispatcher.ts');
    const to = layerOf('worker/worker.ts');
    expect(from && to && to.index > from.index).to.equal(true);
    expect(importsOf("import type { X } from '../worker/worker';\nconst y = await import('./z');")).to.deep.equal(['../worker/worker', './z']);
  });
});
