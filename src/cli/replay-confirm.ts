/**
 * Asking before a large replay: over `--confirm-above` selected messages a
 * replay asks on the terminal, and without a terminal to ask on it refuses
 * unless told `--yes` (a script that means it says so). Selected messages are
 * counted by a first pass over exactly what the second pass re-sends.
 */
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors';

export interface LargeReplay {
  selected: number;
  hosts: number;
  asNew: boolean;
  threshold: number;
  yes: boolean;
  /** stdin and stderr are terminals: there is someone to ask. */
  interactive: boolean;
  ask?: (question: string) => Promise<string>;
}

function askOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise<string>((resolve) => {
    rl.question(question, resolve);
    rl.once('close', () => resolve(''));
  }).finally(() => rl.close());
}

/** True: go on. False: the operator said no. Throws when it is large and nobody can be asked. */
export async function confirmLargeReplay(r: LargeReplay): Promise<boolean> {
  if (r.yes || r.selected <= r.threshold) return true;
  const what = `${r.selected} messages to ${r.hosts} host(s)${r.asNew ? ', each applied again (--as-new)' : ''}`;
  if (!r.interactive) throw new ConfigError(`replay would re-send ${what}, more than --confirm-above ${r.threshold}, and there is no terminal to ask: add --yes, or narrow the selection`);
  const answer = await (r.ask ?? askOnTerminal)(`hostwall replay: re-send ${what}? [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}
