import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { api } from './api.ts';
import { cluster } from './cluster.ts';
import { consoleBench } from './console.ts';
import { dispatch } from './dispatch.ts';
import { e2e } from './e2e.ts';
import { engine } from './engine.ts';
import { jt808 } from './jt808.ts';
import { loginFlood } from './login-flood.ts';
import { loadAverage } from './proc-stat.ts';
import { rawBroker } from './raw-broker.ts';
import { registryFill } from './registry-fill.ts';
import { simSend } from './sim-send.ts';
import { parseSuiteArgs, runSuiteItem } from './suite-cli.ts';
import type { BenchContext, Benchmark } from './types.ts';

export type { BenchContext, Benchmark, Figure } from './types.ts';

/**
 * The benchmark registry, run in this order (a benchmark reads the figures of those before it from
 * ctx.figures: e2e its baseline raw_broker_puback_msgs_per_s, so it comes after raw-broker; jt808 and
 * cluster divide by e2e_msgs_per_s, so they come after e2e). Figure names must be unique across
 * benchmarks.
 */
export const benchmarks: Benchmark[] = [
  rawBroker,
  simSend,
  e2e,
  jt808,
  cluster,
  registryFill,
  engine,
  api,
  loginFlood,
  consoleBench,
  dispatch,
];

const HELP = `Usage: npm run bench -- [--quick] [--only name,...] [--list]

Runs the benchmarks in sequence. Each figure is printed as a line on stdout as it is measured; progress
goes to stderr; the LAST line of stdout is one JSON object with every figure ({"name": value, ...}).

  --quick        reduced sizes: every benchmark (cluster included) over shorter windows, the whole run
                 in under 3 minutes on a quiet machine (a benchmark marked as unable to fit would be
                 left out unless named with --only; none is now)
  --only <list>  comma-separated benchmark names
  --list         list the benchmarks and exit
  -h, --help     this text`;

const snake = (name: string) => name.replaceAll('-', '_');

export async function runBenchmarks(
  list: readonly Benchmark[],
  ctx: BenchContext,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<{ figures: Record<string, number>; failed: string[] }> {
  const figures: Record<string, number> = {};
  const failed: string[] = [];
  // Every figure is measured on a machine whose load is part of the result: the load averages before
  // the run and after each benchmark go into the figures too (1 minute; 5 and 15 in the note).
  const load = (name: string, when: string) => {
    const avg = loadAverage();
    if (avg === undefined) return;
    figures[name] = avg[0];
    out(`${name} = ${avg[0]} load  (load average ${when}: 1/5/15 min ${avg.join(' / ')})`);
  };
  figures.machine_cores = availableParallelism();
  out(`machine_cores = ${figures.machine_cores} cores`);
  load('load_avg_1m_at_start', 'before the first benchmark');
  const shared: BenchContext = { ...ctx, figures };
  // The wall time of each benchmark (set-up, windows and tear-down) is a figure too: the quick run has
  // to stay under 3 minutes, and these say where its time goes (quick_seconds_e2e, full_seconds_api...)
  const mode = ctx.quick ? 'quick' : 'full';
  const seconds = (name: string, s: number, what: string) => {
    figures[name] = Math.round(s * 10) / 10;
    out(`${name} = ${figures[name]} s  (${what})`);
  };
  const start = process.hrtime.bigint();
  for (const b of list) {
    const t0 = process.hrtime.bigint();
    ctx.progress(`[bench] ${b.name}: ${b.description}`);
    await runSuiteItem(b, shared, figures, failed, out);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    ctx.progress(`[bench] ${b.name} done in ${s.toFixed(1)} s`);
    seconds(`${mode}_seconds_${snake(b.name)}`, s, `wall time of ${b.name}, set-up included`);
    load(`load_avg_1m_after_${snake(b.name)}`, `at the end of ${b.name}`);
  }
  seconds(
    `${mode}_seconds_total`,
    Number(process.hrtime.bigint() - start) / 1e9,
    `wall time of the ${list.length} benchmarks of this ${mode} run`,
  );
  return { figures, failed };
}

async function main(): Promise<number> {
  const args = parseSuiteArgs(benchmarks, { help: HELP, noun: 'benchmark', namePad: 14 });
  if ('exit' in args) return args.exit;
  let list = args.list;
  const ctx: BenchContext = {
    quick: args.quick,
    progress: (line) => process.stderr.write(`${line}\n`),
  };
  if (args.quick && !args.only) {
    // the quick run must stay under 3 minutes: what cannot fit is run by name (--only) instead
    for (const b of list.filter((b) => b.notInQuickRun))
      ctx.progress(`[bench] ${b.name} left out of the quick run: ${b.notInQuickRun} (run it with --only)`);
    list = list.filter((b) => !b.notInQuickRun);
  }
  const t0 = process.hrtime.bigint();
  ctx.progress(`[bench] ${args.quick ? 'quick' : 'full'} run: ${list.map((b) => b.name).join(', ')}`);
  const { figures, failed } = await runBenchmarks(list, ctx);
  ctx.progress(`[bench] total ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);
  const result: Record<string, unknown> = { ...figures };
  if (failed.length > 0) result.bench_failed = failed;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return failed.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => {
      process.exitCode = code;
      // benchmarks close what they open; do not let a stray handle keep a finished run alive
      setTimeout(() => process.exit(code), 500).unref();
    },
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
