/**
 * `hostwall schemas`: write the schema catalogue to a directory, or check
 * that the directory already holds exactly it (CI: generated files are never
 * edited by hand).
 *
 * Layout under outDir: `<kind>/<MAJOR.MINOR>.json`,
 * `replies/<kind>/<MAJOR.MINOR>.json`, `events/<event>/<version>.json`,
 * `index.json`. The directory is owned by the export: writing removes JSON
 * files it no longer produces, so a dropped kind or version does not linger.
 */
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { renderJson, schemaCatalog, schemaIndex } from './catalog';

export interface ExportResult {
  /** Every file of the catalogue (relative to outDir): written, or in check mode, expected. */
  written: string[];
  /** Every file not as it should be: changed, missing or extra (in write mode: what was fixed). */
  stale: string[];
  /** Expected but absent. */
  missing: string[];
  /** Present but no longer produced. */
  extra: string[];
}

/** The catalogue's files, path (with `/`) → content. */
export function expectedFiles(): Map<string, string> {
  const docs = schemaCatalog();
  const files = new Map<string, string>();
  for (const d of docs) files.set(d.path, renderJson(d.json));
  files.set('index.json', renderJson(schemaIndex(docs)));
  return files;
}

/** JSON files under dir, relative with `/` (a hand walk: recursive readdir varies across Node 20 releases). */
async function listJson(dir: string, prefix = ''): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(dir, prefix), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found: string[] = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) found.push(...(await listJson(dir, rel)));
    else if (e.isFile() && e.name.endsWith('.json')) found.push(rel);
  }
  return found.sort();
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function exportSchemas(outDir: string, opts: { check: boolean }): Promise<ExportResult> {
  const files = expectedFiles();
  const present = await listJson(outDir);
  const extra = present.filter((p) => !files.has(p));
  const missing: string[] = [];
  const changed: string[] = [];
  for (const [path, content] of files) {
    const onDisk = await readOrUndefined(join(outDir, path));
    if (onDisk === undefined) missing.push(path);
    else if (onDisk !== content) changed.push(path);
  }
  if (!opts.check) {
    for (const path of [...missing, ...changed]) {
      const target = join(outDir, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, files.get(path) ?? '');
    }
    for (const path of extra) await rm(join(outDir, path));
  }
  const stale = [...changed, ...missing, ...extra].sort();
  return { written: [...files.keys()].sort(), stale, missing: missing.sort(), extra };
}
