import { mergeInjections, parseInjectSpec } from '../faults/inject-spec.ts';
import { readScenario } from '../scenario/file.ts';
import type { ScenarioInjection } from '../scenario/file-schema.ts';
import { buildWorld, type SimWorld } from '../scenario/world.ts';

/**
 * What the simulator's subcommands share: argument errors, durations, the simulated start, and the
 * world a run drives (scenario file + seed + start + duration + injections). `run` and `provision` must
 * be given the same of these to agree on the world (which trucks lose their permit, the dates).
 */

export class UsageError extends Error {}

/** Where a command writes its output and its progress (process.stdout/stderr, or a capture). */
export interface TextSink {
  write(text: string): unknown;
}

/** "90m", "2h", "45s", "3600" (seconds) as ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration like 90m, 2h, 45s, got "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'];
  const ms = Number(m[1]) * unit;
  if (!(ms > 0)) throw new UsageError(`${flag}: must be more than 0`);
  return ms;
}

export function parseNumber(
  text: string | undefined,
  flag: string,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`${flag}: expected a number ${min}..${max}, got "${text}"`);
  return n;
}

/**
 * The simulated start: an ISO-8601 instant, or `auto` = the whole run in the past of the wall clock,
 * ending when the real run ends (start = now - duration x (1 - 1/speedup)), so that no fix is ever
 * from the future (ingest refuses those) at any speed-up.
 */
export function parseStart(
  text: string | undefined,
  durationMs: number,
  speedup: number,
  now = Date.now(),
): number {
  if (text === undefined || text === 'auto') {
    const lead = durationMs * (1 - 1 / speedup);
    return Math.floor((now - lead) / 1000) * 1000;
  }
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || !/[zZ]|[+-]\d\d:?\d\d$/.test(text))
    throw new UsageError(
      `--start: expected an ISO-8601 instant with an offset (2025-06-02T08:00:00+08:00) or auto, got "${text}"`,
    );
  return ms;
}

export interface WorldArgs {
  scenario: string;
  seed: number;
  startTs: number;
  durationMs: number;
  inject?: string | undefined;
}

export async function loadWorld(a: WorldArgs): Promise<{ world: SimWorld; injections: ScenarioInjection[] }> {
  const scenario = await readScenario(a.scenario);
  let cli: ScenarioInjection[];
  try {
    cli = a.inject ? parseInjectSpec(a.inject) : [];
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // vehicles, and body cameras (their own units: issue 15's twists name them)
  const known = new Set([
    ...scenario.vehicles.map((v) => v.id),
    ...scenario.devices.filter((d) => d.kind === 'body_camera').map((d) => d.id),
  ]);
  for (const i of cli)
    if (i.vehicle !== undefined && !known.has(i.vehicle))
      throw new UsageError(`--inject: unknown vehicle '${i.vehicle}'`);
  const injections = mergeInjections(scenario.injections, cli);
  const world = buildWorld(scenario, {
    startTs: a.startTs,
    durationMs: a.durationMs,
    seed: a.seed,
    injections,
  });
  return { world, injections };
}

/** Options shared by run and provision (parseArgs format) and their help lines. */
export const WORLD_OPTIONS = {
  scenario: { type: 'string', short: 's' },
  seed: { type: 'string' },
  start: { type: 'string' },
  duration: { type: 'string', short: 'd' },
  inject: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How OFFLINE is scored from a sped-up run: the same text in `run --help` and `evaluate --help`. */
export const OFFLINE_SCORING_HELP = `Scoring OFFLINE from a sped-up run: by default the platform judges silence by its own wall clock,
and the fixes of a --speedup 60 run are hours behind it, so every device looks silent. Start the
platform with COMPLIANCE_CLOCK=fleet (for simulations and replays only): silence is then judged by the
fleet's own time (the median over the devices heard from recently of their newest fix time, plus the
wall time since), and OFFLINE scores like any other type. Otherwise score OFFLINE from runs at --speedup 1, or leave it out (score --exclude OFFLINE).`;

export const WORLD_HELP = `  -s, --scenario <file>   scenario file, JSON or YAML (.yaml/.yml), e.g.
                          simulators/scenarios/hefei-basic.json (required)
  --seed <n>              random seed: the same seed gives the same messages (default 1)
  --start <iso|auto>      simulated start, ISO-8601 with offset; auto (default): the run lies in the
                          past and ends when the real run ends (now - duration x (1 - 1/speedup))
  -d, --duration <d>      simulated duration: 90m, 2h, 3600s (default 1h)
  --inject <spec>         injections on top of the file's, comma separated (repeatable):
                            TYPE:RATE      OFF_ROUTE:0.1 (per trip), NO_PERMIT:0.05 (share of the
                                           trucks), DUPLICATE:0.01 (per message)
                            VEHICLE=TYPE   veh-d2002=OVERSPEED (every trip of that truck)
                            SPILLAGE/cover:RATE, SPILLAGE/weight:RATE choose the kind of spillage
                          violation types: OFF_ROUTE OFF_HOURS NO_PERMIT ILLEGAL_DUMP SUSPECTED_DUMP
                            SPILLAGE WRONG_SITE OVERSPEED RESTRICTED_ZONE OVERLOAD OFFLINE TRACK_GAP
                          per vehicle: REVOKE (its own permit, revoked through the API mid-trip:
                            run needs --api/--token), share of the trucks by rate
                          sanitation vehicles and body cameras of the scenario's plans, by name
                            (VEHICLE=TYPE, every stop or shift): MISSED_COLLECTION LATE_COLLECTION
                            SWEEP_OVERSPEED SWEEP_COVERAGE OUT_OF_AREA OFFLINE (sanitation);
                            NOT_RECORDING OUT_OF_GRID LOW_BATTERY LOW_STORAGE NOT_UPLOADED SOS
                            OFFLINE (cameras, by their id)
                          faults: DUPLICATE OUT_OF_ORDER MALFORMED DROPOUT (per message); DRIFT
                            FLICKER WEIGHT_GLITCH MULTIPATH CANYON (per fix: chance an episode
                            starts); BLIND_AREA SLEEP (per trip); CLOCK_SKEW (share of the devices,
                            or VEHICLE=CLOCK_SKEW: its clock 90 s ahead)`;

/**
 * The start every subcommand shares: its arguments parsed, or the exit code it is already done with
 * (2 and the message for bad arguments, 0 and the help text for --help).
 */
export function parseCommandArgs<V extends { help?: boolean | undefined }>(
  parse: () => { values: V },
  help: () => string,
  out: TextSink,
  err: TextSink,
): V | number {
  let values: V;
  try {
    values = parse().values;
  } catch (e) {
    return usageFailed(e, (s) => err.write(s));
  }
  if (values.help) {
    out.write(`${help()}\n`);
    return 0;
  }
  return values;
}

/** Writes a message and returns the exit code of a usage error. */
export function usageFailed(err: unknown, write: (s: string) => void): number {
  write(`${(err as Error).message}\n(see --help)\n`);
  return 2;
}
