import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultMaxConnections } from '../../broker/open-files.ts';
import { loadHelp } from './command-help.ts';
import { int, num, OPTIONS, type Plan, plan, UsageError } from './command-plan.ts';
import { generateCredentials } from './credentials.ts';
import { loadPhone, runJt808Load } from './jt808.ts';
import { capacityWarnings, localPortCount, openFilesLimit } from './limits.ts';
import type { LoadOptions, LoadStep, LoadStepResult, LoadSummary } from './options.ts';
import { runLoadProcesses } from './processes.ts';
import { prepareLoadFleet } from './provision.ts';
import { progressLine, summaryTable } from './report.ts';
import { runLoad } from './run.ts';

/**
 * The load generator's command line, shared by `simulators/load-cli.ts` (kept for the benchmark and old
 * scripts) and `sim load` (simulators/cli.ts). `prog` is how the help text names the command. Its
 * options and the plan they make are command-plan.ts, its help text command-help.ts.
 */

/** `--prepare DATA_DIR`: a load fleet in a stopped platform's registry, and its credentials file. */
async function prepare(values: Record<string, string | boolean | undefined>): Promise<number> {
  const str = (k: string) => values[k] as string | undefined;
  const dataDir = str('prepare') as string;
  for (const k of ['ids-file', 'password', 'connections'])
    if (str(k) !== undefined)
      throw new UsageError(`--prepare takes --vehicles, --interval, --prefix, --ids-out; not --${k}`);
  const vehicles = int('vehicles', str('vehicles'), undefined);
  if (vehicles === undefined || vehicles < 1) throw new UsageError('--prepare needs --vehicles <n>');
  const interval = num('interval', str('interval'), 10) as number;
  const idsFile = str('ids-out') ?? join(dataDir, 'load-devices.json');
  const t0 = performance.now();
  const fleet = await prepareLoadFleet({
    dataDir,
    vehicles,
    reportIntervalS: interval,
    idsFile,
    ...(str('prefix') !== undefined ? { prefix: str('prefix') } : {}),
  });
  // Enough MQTT edge processes (MQTT_PROCESSES, broker/cluster/) for the fleet, each holding what its
  // default connection cap allows (the rule the edges apply, under the same open-files limit as this one).
  const edges = Math.ceil(fleet.devices / defaultMaxConnections(openFilesLimit()));
  process.stderr.write(
    `[load] ${fleet.devices} muck trucks and devices written to ${join(dataDir, 'registry')} in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s; credentials in ${idsFile}\n` +
      `[load] start the platform with SIMULATE=0 DATA_DIR=${dataDir}${edges > 1 ? ` MQTT_PROCESSES=${edges}` : ''}, ` +
      `then: --ids-file ${idsFile} --interval ${interval} --processes auto\n`,
  );
  process.stdout.write(
    `${JSON.stringify({ prepared: fleet.devices, dataDir, idsFile, mqttProcesses: edges })}\n`,
  );
  return 0;
}

/** --steps-ipc: hands each window's result to the parent and waits for its next step (or the end). */
function nextStepOverIpc(window: LoadStepResult): Promise<LoadStep | undefined> {
  return new Promise((resolve) => {
    const done = (step: LoadStep | undefined) => {
      process.off('message', onMessage);
      process.off('disconnect', onGone);
      resolve(step);
    };
    const onMessage = (raw: unknown) => {
      const m = raw as { type?: string; step?: LoadStep };
      if (m.type === 'step' && m.step !== undefined) done(m.step);
      else if (m.type === 'done') done(undefined);
    };
    const onGone = () => done(undefined);
    process.on('message', onMessage);
    process.once('disconnect', onGone);
    process.send?.({ type: 'window', summary: window });
  });
}

/** The per-process part of the JSON summary: enough to see how the load was shared. */
const slim = (s: LoadSummary) => ({
  vehicles: s.connections,
  connected: s.connected,
  connectedAtEnd: s.connectedAtEnd,
  windowS: s.windowS,
  targetRate: s.targetRate,
  expected: s.expected,
  windowSent: s.windowSent,
  windowAcked: s.windowAcked,
  sentPerS: s.sentPerS,
  ackedPerS: s.ackedPerS,
  missed: s.missed,
  lagged: s.lagged,
  errors: s.errors,
  reconnects: s.reconnects,
});

export async function runLoadCommand(argv: string[], prog: string): Promise<number> {
  const HELP = loadHelp(prog);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let p: Plan;
  try {
    if (values.prepare !== undefined) return await prepare(values);
    p = await plan(values);
    if (values.jt808 !== undefined)
      return await jt808Load(values.jt808 as string, p, values.quiet === true, values.events === true);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n(see --help)\n`);
      return 2;
    }
    throw err;
  }

  const tty = process.stderr.isTTY === true;
  const quiet = values.quiet === true;
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`);
  };
  const sources = p.opts.sourceAddresses ?? [];
  for (const w of capacityWarnings(p.vehicles, p.processes, {
    fdLimit: openFilesLimit(),
    ports: localPortCount(),
    sources: sources.length,
  }))
    say(`[load] warning: ${w}`);
  say(
    `[load] ${p.vehicles} vehicles in ${p.processes} process(es) -> ${p.opts.url}` +
      (p.opts.intervalS !== undefined
        ? `, every ${p.opts.intervalS} s each: ${Math.round((p.vehicles / p.opts.intervalS) * 10) / 10} msg/s`
        : p.opts.rate
          ? `, ${p.opts.rate} msg/s`
          : ', as fast as possible') +
      (sources.length > 1
        ? ` (from ${sources.length} source addresses ${sources[0]}..${sources.at(-1)})`
        : sources.length === 1
          ? ` (from ${sources[0]})`
          : ''),
  );

  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    say('[load] interrupted: finishing (again to exit at once)');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let lastLineAt = Number.NEGATIVE_INFINITY;
  const hooks: Pick<LoadOptions, 'signal' | 'onProgress' | 'onEvent' | 'nextStep'> = {
    signal: ac.signal,
    onProgress: quiet
      ? undefined
      : (progress) => {
          if (tty) {
            process.stderr.write(`\r\x1b[2K${progressLine(progress)}`);
          } else if (progress.elapsedS - lastLineAt >= p.progressEveryS - 0.05) {
            lastLineAt = progress.elapsedS;
            process.stderr.write(`${progressLine(progress)}\n`);
          }
        },
    onEvent: (event) => {
      if (values.events) process.stdout.write(`${JSON.stringify({ event, t: Date.now() })}\n`);
      say(`[load] ${event}`);
    },
  };
  let summary: LoadSummary;
  let perProcess: LoadSummary[] = [];
  const stepped = values['steps-ipc'] === true;
  if (stepped) {
    const reason =
      process.send === undefined
        ? 'needs an IPC channel to a parent process'
        : p.processes > 1
          ? 'runs in one process (no --processes)'
          : undefined;
    if (reason !== undefined) {
      process.stderr.write(`--steps-ipc ${reason}\n(see --help)\n`);
      return 2;
    }
    hooks.nextStep = nextStepOverIpc;
  }
  try {
    if (p.processes > 1) {
      ({ summary, perProcess } = await runLoadProcesses({ ...p.opts, ...hooks }, p.processes));
    } else {
      summary = await runLoad({ ...p.opts, ...hooks });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // the IPC channel would keep this process alive
    if (stepped && process.connected) process.disconnect();
  }
  if (!quiet) {
    if (tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${summaryTable(summary, perProcess)}\n`);
  }
  const json = perProcess.length > 1 ? { ...summary, perProcess: perProcess.map(slim) } : summary;
  process.stdout.write(`${JSON.stringify(json)}\n`);
  return summary.connected === 0 && !ac.signal.aborted ? 1 : 0;
}

/** `--jt808 host:port`: the same fleet as JT/T 808 terminals (simulators/load/jt808.ts). */
async function jt808Load(target: string, p: Plan, quiet: boolean, events: boolean): Promise<number> {
  const m = /^(.+):(\d{1,5})$/.exec(target);
  if (!m) throw new UsageError(`--jt808: expected host:port, e.g. 127.0.0.1:6808, got "${target}"`);
  if (p.processes > 1) throw new UsageError('--jt808 runs in one process: leave out --processes');
  const credentials =
    p.opts.credentials ??
    generateCredentials(p.vehicles, p.opts.prefix ?? 'load-', p.opts.password ?? '{id}');
  const intervalS =
    p.opts.intervalS ?? (p.opts.rate !== undefined && p.opts.rate > 0 ? p.vehicles / p.opts.rate : undefined);
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };
  say(
    `[load] ${p.vehicles} JT/T 808 terminals -> ${target}` +
      (intervalS !== undefined ? `, every ${intervalS} s each` : ', as fast as possible'),
  );
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runJt808Load({
      host: m[1]!,
      port: Number(m[2]),
      connections: Math.min(p.vehicles, credentials.length),
      phoneOf: (i) => loadPhone(i + 1),
      codeOf: (i) => credentials[i]!.password,
      ...(p.opts.durationS !== undefined ? { durationS: p.opts.durationS } : {}),
      ...(p.opts.warmupS !== undefined ? { warmupS: p.opts.warmupS } : {}),
      ...(intervalS !== undefined ? { intervalS } : {}),
      ...(p.opts.window !== undefined ? { window: p.opts.window } : {}),
      ...(p.opts.rampBatch !== undefined ? { rampBatch: p.opts.rampBatch } : {}),
      ...(p.opts.seed !== undefined ? { seed: p.opts.seed } : {}),
      signal: ac.signal,
      onEvent: (event) => {
        if (events) process.stdout.write(`${JSON.stringify({ event, t: Date.now() })}\n`);
        say(`[load] ${event}`);
      },
      onProgress: (pr) =>
        say(`[load] connected ${pr.connected}/${p.vehicles} sent ${pr.sent} acked ${pr.acked}`),
    });
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return summary.connected === 0 && !ac.signal.aborted ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
