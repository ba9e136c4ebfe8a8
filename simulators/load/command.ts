import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultMaxConnections } from '../../broker/open-files.ts';
import { generateCredentials, readCredentialsFile } from './credentials.ts';
import { loadPhone, runJt808Load } from './jt808.ts';
import { autoProcesses, capacityWarnings, localPortCount, openFilesLimit } from './limits.ts';
import type { LoadCredential, LoadOptions, LoadStep, LoadStepResult, LoadSummary } from './options.ts';
import { runLoadProcesses } from './processes.ts';
import { prepareLoadFleet } from './provision.ts';
import { progressLine, summaryTable } from './report.ts';
import { runLoad } from './run.ts';
import { autoSourceAddresses, parseSourceAddresses } from './sources.ts';

/**
 * The load generator's command line, shared by `simulators/load-cli.ts` (kept for the benchmark and old
 * scripts) and `sim load` (simulators/cli.ts). `prog` is how the help text names the command.
 */

const help = (prog: string) => `Usage: ${prog} [options]

Load mode: N vehicles, each an MQTT device connection (mqtt.js over TCP) publishing valid muck-truck
fixes to devices/{id}/telemetry, either every --interval seconds each (rate-controlled: vehicles /
interval msgs/s, the vehicles' report times evenly staggered) or as fast as the connections allow.
Connections open --ramp-batch at a time; publishing starts once every process has opened its share (or
connections stopped coming up: --ramp-idle); after a warm-up the measured window runs for --duration
seconds. A dropped connection is retried with exponential backoff and jitter (a broker restart: the
fleet comes back, "reconn" counts the attempts). A vehicle whose report time comes while it is
disconnected misses that report ("missed").

With --processes N the vehicles are split over N worker processes (node:child_process), each with its
own connections and event loop; the progress and the summary are their sum.

Progress goes to stderr: one line updated in place on a terminal, a plain line every --progress-every
seconds otherwise (connections up/total, msgs sent and acknowledged with their rates and the target,
in flight, errors, reconnects, missed reports). At the end a table goes to stderr and the JSON summary
is the LAST line of stdout (sentPerS/ackedPerS over the measured window; expected = target x window;
perProcess when several).

Options:
  --url <url>             broker URL (default mqtt://127.0.0.1:1883)
  -n, --vehicles <n>      vehicles = device connections (default 1000, or the entries in --ids-file)
  -c, --connections <n>   the same as --vehicles
  -i, --interval <s>      report interval of every vehicle, seconds: rate = vehicles / interval
  -r, --rate <msg/s>      overall target rate instead of --interval; 0 = as fast as possible
                          (the default when neither is given)
  -p, --processes <n>     worker processes, or "auto": enough to keep each under the open-files
                          limit (ulimit -n). Default 1: this process alone
  -d, --duration <s>      measured window, seconds (default 10)
  --warmup <s>            publishing before the window, seconds (default 2)
  -w, --window <n>        max unacknowledged QoS 1 publishes per connection; for QoS 0, max
                          messages written per connection per event-loop turn (default 16)
  --qos <0|1>             publish QoS (default 1)
  --payload-bytes <n>     approximate payload size; below the natural ~200 B a minimal fix
                          (ts, lat, lon, speed) is sent, above it a "pad" field is added
  --ids-file <path>       JSON credentials: [{"id","secret"|"password"}] or {"devices":[...]}
                          (the NewDevice[] of a registry seed works; \`sim provision --offline\`
                          writes one as devices.json)
  --prefix <p>            id prefix for generated ids (default "load-": load-00001, ...)
  --password <pattern>    password of generated ids; {id} and {n} are replaced (default "{id}")
  --ramp-batch <n>        first connection attempts in flight at a time, per process (default 50)
  --ramp-pause <ms>       pause after each first attempt, per ramp lane (default 0)
  --ramp-idle <s>         end the ramp once no connection has come up for this long (the broker or
                          this machine is full); the rest keep being opened during the run, and
                          their report slots count as missed. 0 = wait for every first attempt
                          (default 30)
  --backoff-min <ms>      first reconnect delay; doubles per failed attempt (default 1000)
  --backoff-max <ms>      longest reconnect delay (default 30000)
  --source-addresses <a>  local addresses to connect from, vehicle i from the (i mod n)-th, each with
                          its own ephemeral port range: "127.0.0.1-127.0.0.8", "10.0.0.5,10.0.0.6",
                          "none" (the OS picks), or "auto" (the default): towards a loopback broker,
                          enough 127.0.0.x addresses to keep each under 60 % of the port range
  --connect-rate <n>      connection attempts (first ones and reconnects) per second per process at
                          most, so a fleet that cannot all connect does not starve the publishing of
                          those that did (default 1000)
  --drain <ms>            wait for outstanding PUBACKs after the window (default 5000)
  --seed <n>              seed for start positions (default 1)
  --jt808 <host:port>     the vehicles are JT/T 808 terminals of the platform's gateway there instead:
                          vehicle n (1-based) has phone 19 + n in nine digits (as --prepare binds
                          them), authenticates (0x0102) with its password and reports 0x0200, each
                          answered 0x8001 once durable; one process (--vehicles, --interval, --duration,
                          --warmup, --window, --ramp-batch, --ids-file, --password apply)
  --progress-every <s>    seconds between progress lines when stderr is not a terminal (default 1)
  --events                also print {"event":"ramp_done"|"window_start"|"window_end"} lines on
                          stdout as they happen (for a supervising process)
  -q, --quiet             no progress and no table on stderr
  --steps-ipc             (for a parent process over IPC, one process) after each window
                          send {"type":"window","summary":...} and wait for {"type":"step","step":
                          {"rate","warmupS","durationS"}} (another window on the same connections)
                          or {"type":"done"}; the benchmark's rate search uses it
  -h, --help              this text

Preparing a platform for a load run (it must be stopped: it reads its registry at start):
  --prepare <DATA_DIR>    write --vehicles muck trucks and their devices (ids <prefix>00001...,
                          one shared random secret, nominal report interval --interval, default
                          10 s) into the registry of DATA_DIR, and their credentials to --ids-out;
                          then exit. Start the platform and run with --ids-file
  --ids-out <path>        where --prepare writes the credentials (default DATA_DIR/load-devices.json)

Limits: every connection is a file descriptor on both ends (ulimit -n per process: the broker's too)
and, towards one broker address, one local port (net.ipv4.ip_local_port_range); the command warns
when a plan exceeds what this machine shows.

Examples:
  ${prog} --prepare ./data --vehicles 100000 --interval 10      (platform stopped)
  SIMULATE=0 DATA_DIR=./data npm start &
  ${prog} --vehicles 100000 --interval 10 --processes auto --ids-file data/load-devices.json -d 60
  ${prog} --url mqtt://127.0.0.1:1883 -n 1000 -r 5000 -d 30
  ${prog} --prefix truck- --password 'pw-{n}' -n 2000 --qos 0

Exit status: 0 when the run completed (even with errors, see the summary), 2 on bad arguments, 1 when
no connection was up at the start of the window or the run failed.`;

class UsageError extends Error {}

function num(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a non-negative number, got "${value}"`);
  return n;
}

function int(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  const n = num(name, value, fallback);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer`);
  return n;
}

const OPTIONS = {
  url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
  vehicles: { type: 'string', short: 'n' },
  connections: { type: 'string', short: 'c' },
  interval: { type: 'string', short: 'i' },
  rate: { type: 'string', short: 'r' },
  processes: { type: 'string', short: 'p' },
  duration: { type: 'string', short: 'd' },
  warmup: { type: 'string' },
  window: { type: 'string', short: 'w' },
  qos: { type: 'string', default: '1' },
  'payload-bytes': { type: 'string' },
  'ids-file': { type: 'string' },
  prefix: { type: 'string' },
  password: { type: 'string' },
  'ramp-batch': { type: 'string' },
  'ramp-pause': { type: 'string' },
  'ramp-idle': { type: 'string' },
  'backoff-min': { type: 'string' },
  'backoff-max': { type: 'string' },
  'connect-rate': { type: 'string' },
  'source-addresses': { type: 'string' },
  drain: { type: 'string' },
  seed: { type: 'string' },
  'progress-every': { type: 'string' },
  prepare: { type: 'string' },
  'ids-out': { type: 'string' },
  jt808: { type: 'string' },
  events: { type: 'boolean', default: false },
  'steps-ipc': { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface Plan {
  opts: LoadOptions;
  vehicles: number;
  processes: number;
  progressEveryS: number;
}

async function plan(values: Record<string, string | boolean | undefined>): Promise<Plan> {
  const str = (k: string) => values[k] as string | undefined;
  const qos = str('qos');
  if (qos !== '0' && qos !== '1') throw new UsageError(`--qos must be 0 or 1, got "${qos}"`);
  if (str('ids-file') && (str('prefix') !== undefined || str('password') !== undefined)) {
    throw new UsageError('--ids-file cannot be combined with --prefix or --password');
  }
  if (str('vehicles') !== undefined && str('connections') !== undefined) {
    throw new UsageError('--vehicles and --connections are the same option: give one');
  }
  if (str('interval') !== undefined && str('rate') !== undefined) {
    throw new UsageError('--interval and --rate both set the rate: give one');
  }
  const interval = num('interval', str('interval'), undefined);
  if (interval !== undefined && interval <= 0) throw new UsageError('--interval must be > 0');
  let credentials: LoadCredential[] | undefined;
  if (str('ids-file')) credentials = await readCredentialsFile(str('ids-file') as string);
  const connections = int('vehicles', str('vehicles') ?? str('connections'), undefined);
  const vehicles = connections ?? credentials?.length ?? 1000;
  if (vehicles < 1) throw new UsageError('--vehicles must be at least 1');
  if (credentials !== undefined && vehicles > credentials.length) {
    throw new UsageError(`${vehicles} vehicles requested but --ids-file has ${credentials.length} entries`);
  }
  const p = str('processes') ?? '1';
  const processes = p === 'auto' ? autoProcesses(vehicles, openFilesLimit()) : int('processes', p, 1);
  if (processes === undefined || processes < 1)
    throw new UsageError('--processes must be at least 1, or auto');
  const backoffMinMs = num('backoff-min', str('backoff-min'), 1000) as number;
  const backoffMaxMs = num('backoff-max', str('backoff-max'), 30_000) as number;
  if (backoffMaxMs < backoffMinMs) throw new UsageError('--backoff-max must be >= --backoff-min');
  if (num('connect-rate', str('connect-rate'), 1000) === 0)
    throw new UsageError('--connect-rate must be > 0');
  const opts: LoadOptions = {
    url: str('url') as string,
    connections: vehicles,
    ...(credentials ? { credentials } : {}),
    ...(str('prefix') !== undefined ? { prefix: str('prefix') } : {}),
    ...(str('password') !== undefined ? { password: str('password') } : {}),
    qos: qos === '0' ? 0 : 1,
    durationS: num('duration', str('duration'), 10),
    warmupS: num('warmup', str('warmup'), 2),
    ...(interval !== undefined ? { intervalS: interval } : { rate: num('rate', str('rate'), 0) }),
    window: int('window', str('window'), 16),
    payloadBytes: int('payload-bytes', str('payload-bytes'), undefined),
    rampBatch: int('ramp-batch', str('ramp-batch'), 50),
    rampPauseMs: num('ramp-pause', str('ramp-pause'), 0),
    rampIdleS: num('ramp-idle', str('ramp-idle'), 30),
    backoffMinMs,
    backoffMaxMs,
    attemptsPerS: num('connect-rate', str('connect-rate'), 1000),
    drainMs: num('drain', str('drain'), 5000),
    seed: int('seed', str('seed'), 1),
  };
  const spec = str('source-addresses') ?? 'auto';
  let sources: string[];
  try {
    sources =
      spec === 'none'
        ? []
        : spec === 'auto'
          ? autoSourceAddresses(opts.url, vehicles, localPortCount())
          : parseSourceAddresses(spec);
  } catch (err) {
    throw new UsageError(`--source-addresses: ${(err as Error).message}`);
  }
  if (sources.length > 0) {
    if (!opts.url.startsWith('mqtt://')) throw new UsageError('--source-addresses needs an mqtt:// URL');
    opts.sourceAddresses = sources;
  }
  const progressEveryS = num('progress-every', str('progress-every'), 1) as number;
  return { opts, vehicles, processes: Math.min(processes, vehicles), progressEveryS };
}

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
  const HELP = help(prog);
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
