import { readCredentialsFile } from './credentials.ts';
import { autoProcesses, localPortCount, openFilesLimit } from './limits.ts';
import type { LoadCredential, LoadOptions } from './options.ts';
import { autoSourceAddresses, parseSourceAddresses } from './sources.ts';

/**
 * The load command's options (command.ts) and what they make: the run's plan (vehicles, processes, the
 * load options), every option checked with a message naming it.
 */

export class UsageError extends Error {}

export function num(
  name: string,
  value: string | undefined,
  fallback: number | undefined,
): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a non-negative number, got "${value}"`);
  return n;
}

export function int(
  name: string,
  value: string | undefined,
  fallback: number | undefined,
): number | undefined {
  const n = num(name, value, fallback);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer`);
  return n;
}

export const OPTIONS = {
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

export interface Plan {
  opts: LoadOptions;
  vehicles: number;
  processes: number;
  progressEveryS: number;
}

export async function plan(values: Record<string, string | boolean | undefined>): Promise<Plan> {
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
