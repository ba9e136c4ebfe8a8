import { parseArgs } from 'node:util';
import { type LoadCredential, type LoadProgress, readCredentialsFile, runLoad } from './load.ts';

/**
 * The load generator's command line, shared by `simulators/load-cli.ts` (kept for the benchmark and old
 * scripts) and `sim load` (simulators/cli.ts). `prog` is how the help text names the command.
 */

const help = (prog: string) => `Usage: ${prog} [options]

Opens N MQTT device connections (mqtt.js over TCP) and publishes valid muck-truck fixes to
devices/{id}/telemetry. Connections open in batches; publishing starts when all are up; after a warm-up
the measured window runs for --duration seconds. Progress goes to stderr (one line a second, or an
updating line on a TTY); the final JSON summary is the LAST line of stdout.

Options:
  --url <url>             broker URL (default mqtt://127.0.0.1:1883)
  -c, --connections <n>   connections (default 1000, or the number of entries in --ids-file)
  -d, --duration <s>      measured window, seconds (default 10)
  --warmup <s>            publishing before the window, seconds (default 2)
  -r, --rate <msg/s>      target overall rate (token bucket); 0 = as fast as possible (default 0)
  -w, --window <n>        max unacknowledged QoS 1 publishes per connection; for QoS 0, max
                          messages written per connection per event-loop turn (default 16)
  --qos <0|1>             publish QoS (default 1)
  --payload-bytes <n>     approximate payload size; below the natural ~200 B a minimal fix
                          (ts, lat, lon, speed) is sent, above it a "pad" field is added
  --ids-file <path>       JSON credentials: [{"id","secret"|"password"}] or {"devices":[...]}
                          (the NewDevice[] of a registry seed works)
  --prefix <p>            id prefix for generated ids (default "load-": load-00001, ...)
  --password <pattern>    password of generated ids; {id} and {n} are replaced (default "{id}")
  --ramp-batch <n>        connections opened at a time (default 50)
  --ramp-pause <ms>       pause between ramp batches (default 0)
  --drain <ms>            wait for outstanding PUBACKs after the window (default 5000)
  --seed <n>              seed for start positions (default 1)
  --events                also print {"event":"ramp_done"|"window_start"|"window_end"} lines on
                          stdout as they happen (for a supervising process)
  -q, --quiet             no progress on stderr
  -h, --help              this text

Examples:
  ${prog} --url mqtt://127.0.0.1:1883 -c 1000 -r 5000 -d 30
  ${prog} --ids-file devices.json --qos 1 --window 32 -d 60
  ${prog} --prefix truck- --password 'pw-{n}' -c 2000 --qos 0

Exit status: 0 when the run completed (even with errors, see the summary), 2 on bad arguments, 1 when
no connection was up at the start of the window or the run failed.`;

function num(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a non-negative number, got "${value}"`);
  return n;
}

class UsageError extends Error {}

function fmt(p: LoadProgress): string {
  const k = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));
  return (
    `[load] ${p.elapsedS.toFixed(0).padStart(4)}s ${p.phase.padEnd(7)} conn ${p.connected} ` +
    `sent ${p.sent} (${k(p.sentPerS)}/s) acked ${p.acked} (${k(p.ackedPerS)}/s) ` +
    `inflight ${p.inflight} err ${p.errors} reconn ${p.reconnects}`
  );
}

export async function runLoadCommand(argv: string[], prog: string): Promise<number> {
  const HELP = help(prog);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
        connections: { type: 'string', short: 'c' },
        duration: { type: 'string', short: 'd' },
        warmup: { type: 'string' },
        rate: { type: 'string', short: 'r' },
        window: { type: 'string', short: 'w' },
        qos: { type: 'string', default: '1' },
        'payload-bytes': { type: 'string' },
        'ids-file': { type: 'string' },
        prefix: { type: 'string' },
        password: { type: 'string' },
        'ramp-batch': { type: 'string' },
        'ramp-pause': { type: 'string' },
        drain: { type: 'string' },
        seed: { type: 'string' },
        events: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const str = (k: string) => values[k] as string | undefined;

  let credentials: LoadCredential[] | undefined;
  let opts: Parameters<typeof runLoad>[0];
  try {
    const qos = str('qos');
    if (qos !== '0' && qos !== '1') throw new UsageError(`--qos must be 0 or 1, got "${qos}"`);
    if (str('ids-file') && (str('prefix') !== undefined || str('password') !== undefined)) {
      throw new UsageError('--ids-file cannot be combined with --prefix or --password');
    }
    if (str('ids-file')) credentials = await readCredentialsFile(str('ids-file') as string);
    opts = {
      url: str('url') as string,
      connections: num('connections', str('connections'), undefined),
      credentials,
      prefix: str('prefix'),
      password: str('password'),
      qos: qos === '0' ? 0 : 1,
      durationS: num('duration', str('duration'), 10),
      warmupS: num('warmup', str('warmup'), 2),
      rate: num('rate', str('rate'), 0),
      window: num('window', str('window'), 16),
      payloadBytes: num('payload-bytes', str('payload-bytes'), undefined),
      rampBatch: num('ramp-batch', str('ramp-batch'), 50),
      rampPauseMs: num('ramp-pause', str('ramp-pause'), 0),
      drainMs: num('drain', str('drain'), 5000),
      seed: num('seed', str('seed'), 1),
    };
    if (opts.connections !== undefined && !Number.isInteger(opts.connections)) {
      throw new UsageError('--connections must be an integer');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n(see --help)\n`);
      return 2;
    }
    throw err;
  }

  const tty = process.stderr.isTTY === true;
  const quiet = values.quiet === true;
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\n[load] interrupted: finishing (again to exit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const summary = await runLoad({
    ...opts,
    signal: ac.signal,
    onProgress: quiet
      ? undefined
      : (p) => {
          if (tty) process.stderr.write(`\r\x1b[2K${fmt(p)}`);
          else process.stderr.write(`${fmt(p)}\n`);
        },
    onEvent: (event) => {
      if (values.events) process.stdout.write(`${JSON.stringify({ event, t: Date.now() })}\n`);
      if (!quiet) {
        if (tty) process.stderr.write('\n');
        process.stderr.write(`[load] ${event}\n`);
      }
    },
  });
  if (!quiet) {
    if (tty) process.stderr.write('\n');
    const l = summary.latencyMs;
    process.stderr.write(
      `[load] ${summary.connected}/${summary.connections} connected, window ${summary.windowS}s: ` +
        `sent ${summary.sentPerS}/s, acked ${summary.ackedPerS}/s` +
        (l ? `, latency p50 ${l.p50} ms p99 ${l.p99} ms max ${l.max} ms` : '') +
        `, errors ${summary.errors}, reconnects ${summary.reconnects}, unacked ${summary.unacked}\n`,
    );
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.connected === 0 && !ac.signal.aborted ? 1 : 0;
}
