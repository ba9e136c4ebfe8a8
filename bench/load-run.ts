import type { LoadStep, LoadStepResult, LoadSummary } from '../simulators/load/options.ts';
import { lastJson, spawnTs, type TsChild } from './child.ts';
import type { BenchContext } from './types.ts';

/**
 * One run of the load generator (simulators/load-cli.ts) as a child process, the way every MQTT
 * benchmark drives its broker: N QoS 1 device connections, a warm-up that is not counted, then the
 * measured window. The generator counts PUBACKs at the publishers over its window, so a figure taken
 * from `summary.ackedPerS` means the same thing whatever broker is on the other side.
 */

/**
 * The load every burst benchmark uses (raw-broker's PUBACK-only baseline and e2e), so e2e_ratio compares
 * the same connections, window, warm-up and measured window. 1,000 connections in both modes: with
 * 2,000 the fan-out run overflowed its stack (RangeError in mqemitter delivering to the subscriber).
 */
export function burstShape(ctx: BenchContext): {
  connections: number;
  window: number;
  durationS: number;
  warmupS: number;
} {
  return { connections: 1000, window: 8, durationS: ctx.quick ? 6 : 30, warmupS: ctx.quick ? 2 : 5 };
}

export type LoadEvent = 'ramp_done' | 'window_start' | 'window_end';

export interface GeneratorRun {
  url: string;
  connections: number;
  /** unacknowledged QoS 1 publishes per connection */
  window: number;
  durationS: number;
  warmupS: number;
  /** overall offered rate, msg/s; undefined: as fast as the window allows */
  rate?: number;
  /** device credentials (JSON) for a broker that authenticates */
  idsFile?: string;
  /** wait for outstanding PUBACKs after the window, ms (the generator's default otherwise) */
  drainMs?: number;
  /** the generator's --seed (start positions; bench/e2e-world.ts builds the permits from it) */
  seed?: number;
  /** prefix of the progress lines */
  label: string;
  /** called in this process when the generator reports a phase (window marks are taken here) */
  onEvent?: (event: LoadEvent) => void;
  /** called with the child once it is spawned (CPU accounting reads its pid) */
  onSpawn?: (child: TsChild) => void;
}

export async function runGenerator(ctx: BenchContext, run: GeneratorRun): Promise<LoadSummary> {
  const args = [
    '--url',
    run.url,
    '--connections',
    String(run.connections),
    '--qos',
    '1',
    '--window',
    String(run.window),
    '--duration',
    String(run.durationS),
    '--warmup',
    String(run.warmupS),
    '--events',
  ];
  if (run.rate !== undefined) args.push('--rate', String(run.rate));
  if (run.idsFile !== undefined) args.push('--ids-file', run.idsFile);
  if (run.drainMs !== undefined) args.push('--drain', String(run.drainMs));
  if (run.seed !== undefined) args.push('--seed', String(run.seed));
  const child = spawnTs('simulators/load-cli.ts', args, {
    onStdoutLine: (line) => {
      if (!line.startsWith('{"event"')) return;
      const event = (JSON.parse(line) as { event: string }).event;
      if (event === 'ramp_done' || event === 'window_start' || event === 'window_end') run.onEvent?.(event);
    },
    onStderrLine: (line) => ctx.progress(`  ${run.label} ${line}`),
  });
  run.onSpawn?.(child);
  try {
    const code = await child.exited;
    if (code !== 0) throw new Error(`load generator exited with ${code}`);
    return lastJson<LoadSummary>(child, 'load generator');
  } finally {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
  }
}

export interface SteppedRun {
  url: string;
  connections: number;
  window: number;
  idsFile?: string;
  /** the first window: without a rate, flat out (as many as the window allows) */
  first: Omit<LoadStep, 'rate'> & { rate?: number };
  /** wait for outstanding PUBACKs after each window, ms (the generator's default otherwise) */
  drainMs?: number;
  label: string;
  /** after each window: its result; return the next step, or undefined to end the run */
  onWindow: (result: LoadStepResult) => Promise<LoadStep | undefined>;
  onEvent?: (event: LoadEvent) => void;
  onSpawn?: (child: TsChild) => void;
}

/**
 * The load generator in stepped mode (--steps-ipc): one set of connections, opened once, and a window
 * per step at the rate the parent asks for after seeing the previous window (a rate search without
 * reconnecting and re-authenticating every device per step). Resolves with the last window's summary.
 */
export async function runSteppedGenerator(ctx: BenchContext, run: SteppedRun): Promise<LoadSummary> {
  const args = [
    '--url',
    run.url,
    '--connections',
    String(run.connections),
    '--qos',
    '1',
    '--window',
    String(run.window),
    '--warmup',
    String(run.first.warmupS),
    '--duration',
    String(run.first.durationS),
    '--steps-ipc',
    '--events',
  ];
  if (run.first.rate !== undefined) args.push('--rate', String(run.first.rate));
  if (run.idsFile !== undefined) args.push('--ids-file', run.idsFile);
  if (run.drainMs !== undefined) args.push('--drain', String(run.drainMs));
  const child = spawnTs('simulators/load-cli.ts', args, {
    ipc: true,
    onStdoutLine: (line) => {
      if (!line.startsWith('{"event"')) return;
      const event = (JSON.parse(line) as { event: string }).event;
      if (event === 'ramp_done' || event === 'window_start' || event === 'window_end') run.onEvent?.(event);
    },
    onStderrLine: (line) => ctx.progress(`  ${run.label} ${line}`),
  });
  run.onSpawn?.(child);
  let failure: Error | undefined;
  child.child.on('message', (raw) => {
    const m = raw as { type?: string; summary?: LoadStepResult };
    if (m.type !== 'window' || m.summary === undefined) return;
    run.onWindow(m.summary).then(
      (step) => {
        if (child.child.connected) child.child.send(step ? { type: 'step', step } : { type: 'done' });
      },
      (err: Error) => {
        failure = err;
        if (child.child.connected) child.child.send({ type: 'done' });
      },
    );
  });
  try {
    const code = await child.exited;
    if (failure) throw failure;
    if (code !== 0) throw new Error(`load generator exited with ${code}`);
    return lastJson<LoadSummary>(child, 'load generator');
  } finally {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
  }
}
