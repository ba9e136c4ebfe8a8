import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseSuiteArgs, runSuiteItem } from '../bench/suite-cli.ts';
import { sampleLoad } from './monitor.ts';
import { evidenceStorm } from './scenarios/evidence-storm.ts';
import type { Scenario, StressContext } from './types.ts';

/**
 * `npm run stress`: the platform under conditions a city can meet and a benchmark does not (an outage
 * in a violation storm, a restart in the middle of it), at full size, against real servers. One file per
 * scenario in stress/scenarios/; add it to this list. Figures on stdout as they come, the last line is
 * one JSON object with all of them and the machine's load average (cores are shared: read the figures
 * with it).
 */
export const scenarios: Scenario[] = [evidenceStorm];

const HELP = `Usage: npm run stress -- [--quick] [--only name,...] [--list]

Runs the stress scenarios in sequence (several minutes each). Each figure is printed on stdout as it is
measured; progress goes to stderr; the LAST line of stdout is one JSON object with every figure and the
load average ({"name": value, ..., "loadavg_1m_start": ..., "loadavg_1m_max": ..., "cpus": ...}).

  --quick        reduced sizes (a try-out of a few minutes)
  --only <list>  comma-separated scenario names
  --list         list the scenarios and exit
  -h, --help     this text`;

async function main(): Promise<number> {
  const args = parseSuiteArgs(scenarios, { help: HELP, noun: 'scenario', namePad: 16 });
  if ('exit' in args) return args.exit;
  const list = args.list;
  const ctx: StressContext = {
    quick: args.quick,
    progress: (line) => process.stderr.write(`${line}\n`),
  };
  const load = sampleLoad();
  const figures: Record<string, number> = {};
  const failed: string[] = [];
  for (const s of list) {
    const t0 = Date.now();
    ctx.progress(`[stress] ${s.name}: ${s.description}${ctx.quick ? ' (quick)' : ''}`);
    await runSuiteItem(s, ctx, figures, failed, (line) => process.stdout.write(`${line}\n`));
    ctx.progress(`[stress] ${s.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const l = load.stop();
  const round = (v: number) => Math.round(v * 100) / 100;
  const result: Record<string, unknown> = {
    ...figures,
    loadavg_1m_start: round(l.start),
    loadavg_1m_max: round(l.max),
    loadavg_1m_end: round(l.end),
    loadavg_5m_end: round(loadavg()[1]!),
    cpus: cpus().length,
  };
  if (failed.length > 0) result.stress_failed = failed;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return failed.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // exit through process.exit, so the servers and platforms a scenario started are killed on the way
  // (testkit/servers/process.ts and testkit/child-platform.ts do it on 'exit')
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  main().then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(code), 500).unref();
    },
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
