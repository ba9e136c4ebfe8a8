import { parseArgs } from 'node:util';
import type { Figure } from './types.ts';

/**
 * The command line both suites share (`npm run bench`, bench/run.ts; `npm run stress`, stress/run.ts):
 * --quick, --only name,..., --list, --help; and running one item with its figures collected and printed
 * as they come, a failure recorded by name instead of ending the run.
 */

export interface SuiteItem<C> {
  name: string;
  description: string;
  run(ctx: C): Promise<Figure[]>;
}

export type SuiteArgs<T> = { exit: number } | { quick: boolean; only: boolean; list: readonly T[] };

/**
 * Reads the arguments: --help and --list print and give the exit code (0); an unknown --only name is
 * named on stderr (exit code 2); else the items to run, in the suite's order.
 */
export function parseSuiteArgs<T extends { name: string; description: string }>(
  items: readonly T[],
  how: { help: string; noun: string; namePad: number },
): SuiteArgs<T> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${how.help}\n`);
    return { exit: 0 };
  }
  if (values.list) {
    for (const b of items) process.stdout.write(`${b.name.padEnd(how.namePad)} ${b.description}\n`);
    return { exit: 0 };
  }
  let list = items;
  if (values.only) {
    const names = values.only.split(',').map((s) => s.trim());
    const unknown = names.filter((n) => !items.some((b) => b.name === n));
    if (unknown.length > 0) {
      process.stderr.write(`unknown ${how.noun}(s): ${unknown.join(', ')} (see --list)\n`);
      return { exit: 2 };
    }
    list = items.filter((b) => names.includes(b.name));
  }
  return { quick: values.quick, only: values.only !== undefined && values.only !== '', list };
}

/**
 * Runs one item: each figure goes into `figures` (a name already there fails the item) and is printed
 * with `out`; a failure is printed and recorded in `failed` as "name: message".
 */
export async function runSuiteItem<C>(
  item: SuiteItem<C>,
  ctx: C,
  figures: Record<string, number>,
  failed: string[],
  out: (line: string) => void,
): Promise<void> {
  try {
    const result: Figure[] = await item.run(ctx);
    for (const f of result) {
      if (f.name in figures) throw new Error(`duplicate figure name ${f.name}`);
      figures[f.name] = f.value;
      out(`${f.name} = ${f.value} ${f.unit}${f.note ? `  (${f.note})` : ''}`);
    }
  } catch (err) {
    failed.push(`${item.name}: ${(err as Error).message}`);
    out(`${item.name} FAILED: ${(err as Error).message}`);
  }
}
