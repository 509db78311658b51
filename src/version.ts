/**
 * This build's version: package.json's, read once. The file sits two levels
 * above the compiled module in a checkout and in the npm package alike
 * (dist/src/version.js → package.json).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const PackageJson = z.object({ name: z.string(), version: z.string() });

function read(): z.infer<typeof PackageJson> {
  try {
    return PackageJson.parse(JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')));
  } catch {
    // A copy of dist/ without its package.json still runs; it only cannot say which build it is.
    return { name: 'hostwall', version: '0.0.0-unknown' };
  }
}

export const PACKAGE = read();
export const VERSION = PACKAGE.version;
