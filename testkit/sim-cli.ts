import { spawn } from 'node:child_process';

/**
 * `npm run sim` as the tests drive it: the CLI in a child process (a platform under test is served from
 * the test's own process, whose event loop must keep running), and what `sim evaluate` reports.
 */

/** How a CLI run ended: its exit status and everything it wrote. */
export interface SimRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx simulators/cli.ts ...args` from the repository root; resolves when it exits. */
export function runSim(args: string[]): Promise<SimRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulators/cli.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** One type's row of `sim evaluate --json` (latency when the command measures it). */
export interface EvaluateTypeResult {
  type: string;
  truths: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number | null;
  recall: number | null;
  latencyS?: { n: number; median: number; p95: number } | null;
}

/** What `sim evaluate --json` prints on stdout. */
export interface EvaluateResult {
  byType: EvaluateTypeResult[];
  total: EvaluateTypeResult;
  missed: unknown[];
  falseAlarms: unknown[];
}

/** The progress lines of `sim evaluate` (`[evaluate] ...`) from its stderr, for the test's log. */
export function evaluateProgress(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('[evaluate]'))
    .join('\n');
}

/**
 * The run's publishing line: [1] devices connected, [2] devices, [3] published, [4] acknowledged;
 * null when the run did not report it.
 */
export function publishingOf(stderr: string): RegExpExecArray | null {
  return /(\d+)\/(\d+) devices connected, (\d+) published, (\d+) acknowledged/.exec(stderr);
}

/** The faults the end-to-end evaluations inject (issue 5): duplicates, reordering, malformed payloads, dropouts, drift. */
export const EVALUATE_FAULTS = 'DUPLICATE:0.02,OUT_OF_ORDER:0.01,MALFORMED:0.01,DROPOUT:0.01,DRIFT:0.002';

/** What differs between the end-to-end evaluations: the scenario, its simulated time, its truth file. */
export interface EvaluateRun {
  scenario: string;
  /** simulated time, e.g. '90m' */
  duration: string;
  speedup: number;
  /** ISO start of the simulated time (default: the command's `auto`) */
  start?: string;
  /** where the ground truth is written */
  truth: string;
}

/**
 * The command line of `sim evaluate --json` against a platform under test, as the end-to-end tests run
 * it (for runSim): provisioned and scored through its API with the admin token, the fleet on its MQTT
 * port, 15 m GNSS noise, EVALUATE_FAULTS, and the goals (precision 0.99, recall 0.98 for every
 * type: the command exits 1 below them).
 */
export function evaluateArgs(
  platform: { httpUrl: string; mqttUrl: string },
  token: string,
  run: EvaluateRun,
): string[] {
  return [
    'evaluate',
    ...['--scenario', run.scenario, '--api', platform.httpUrl, '--token', token, '--url', platform.mqttUrl],
    ...['--duration', run.duration, ...(run.start === undefined ? [] : ['--start', run.start])],
    ...['--speedup', String(run.speedup), '--noise-m', '15', '--inject', EVALUATE_FAULTS],
    ...['--truth', run.truth, '--json', '--min-precision', '0.99', '--min-recall', '0.98'],
  ];
}
