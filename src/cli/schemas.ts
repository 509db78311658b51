/** `hostwall schemas`: write (or, with --check, verify) the JSON Schema of every intent, reply and event. */
import type { Command } from 'commander';
import { exportSchemas } from '../schemas-export/export';

export function registerSchemas(program: Command): void {
  program
    .command('schemas')
    .description('export JSON Schema for every intent, reply and event under --out')
    .option('--out <dir>', 'output directory', 'schemas')
    .option('--check', 'write nothing; exit 1 if the directory is not up to date')
    .action(async (flags: { out: string; check?: boolean }) => {
      const r = await exportSchemas(flags.out, { check: flags.check === true });
      if (flags.check) {
        if (r.stale.length > 0) {
          process.stderr.write(`hostwall: ${flags.out} is stale (run npm run schemas): ${r.stale.join(', ')}\n`);
          process.exit(1);
        }
        process.stdout.write(`${flags.out} is up to date (${r.written.length} files)\n`);
      } else {
        process.stdout.write(`wrote ${r.written.length} schema files to ${flags.out}\n`);
      }
    });
}
