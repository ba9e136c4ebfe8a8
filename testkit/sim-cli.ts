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
