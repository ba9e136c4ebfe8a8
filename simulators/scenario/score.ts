import type { ViolationCode } from '../../geofence/model.ts';
import type { Truth } from './truth.ts';

/**
 * Detection scoring (pure; I/O in score-io.ts): ground truth against detected violations, per type.
 *
 * Matching. A detection matches a truth of the same vehicle and type when their time ranges overlap
 * once each is widened by `toleranceMs` (default 60 s: two report intervals of the slowest 30 s
 * terminal): d.start <= t.end + tol and d.end >= t.start - tol, an open range (no end yet) reaching
 * to infinity. An instantaneous truth (ILLEGAL_DUMP, WRONG_SITE) is a range of length 0, so it matches
 * detections starting within the tolerance of it. Each truth matches at most one detection and each
 * detection at most one truth; among the overlapping pairs, those whose starts are closest are paired
 * first (ties by truth, then detection order), so a split detection counts once and its rest as FP.
 *
 * Counting: TP = matched pairs; FP = detections left over; FN = truths left over; precision =
 * TP/(TP+FP) and recall = TP/(TP+FN) (null when there is nothing to divide). Latency = detection start
 * - truth start of each pair (negative when the detector started earlier), reported as the median (the
 * mean of the two middle values for an even count) and the 95th percentile (nearest rank).
 *
 * Scope: detections of units the run did not drive, and detections starting before the run or after
 * its end (+ tolerance), are left out (counted in `ignored`): a platform shared with other traffic,
 * or the OFFLINE every device raises once a run stops, is not the simulator's to judge.
 */

export interface Detection {
  id?: string;
  vehicle: string;
  code: ViolationCode;
  /** epoch ms */
  startTs: number;
  endTs?: number;
  /** epoch ms: when the platform raised it (latency is measured to it; startTs when absent) */
  detectedTs?: number;
}

export interface ScoreOptions {
  toleranceMs?: number;
  /**
   * the run's span (epoch ms); detections starting outside [start, end + tolerance] are ignored, and
   * OFFLINE ones starting after end (the silence of a fleet that stopped when the run did)
   */
  window?: { start: number; end: number };
  /** the run's units; detections of others are ignored */
  vehicles?: readonly string[];
}

export interface Latency {
  n: number;
  medianMs: number;
  p95Ms: number;
}

export interface TypeScore {
  type: ViolationCode | 'ALL';
  truths: number;
  detections: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number | null;
  recall: number | null;
  latency: Latency | null;
}

export interface Match {
  truth: Truth;
  detection: Detection;
  latencyMs: number;
}

export interface ScoreResult {
  toleranceMs: number;
  byType: TypeScore[];
  total: TypeScore;
  matches: Match[];
  missed: Truth[];
  falseAlarms: Detection[];
  ignored: number;
}

export const DEFAULT_TOLERANCE_MS = 60_000;

/** Median (mean of the middle two for an even count) and nearest-rank p95 of the values. */
export function latencyOf(values: readonly number[]): Latency | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  const medianMs = n % 2 === 1 ? v[(n - 1) / 2]! : (v[n / 2 - 1]! + v[n / 2]!) / 2;
  const p95Ms = v[Math.max(0, Math.ceil(0.95 * n) - 1)]!;
  return { n, medianMs, p95Ms };
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

export function overlaps(t: Truth, d: Detection, tol: number): boolean {
  const tEnd = t.end ?? Number.POSITIVE_INFINITY;
  const dEnd = d.endTs ?? Number.POSITIVE_INFINITY;
  return d.startTs <= tEnd + tol && dEnd >= t.start - tol;
}

function tally(
  type: TypeScore['type'],
  truths: number,
  detections: number,
  matches: readonly Match[],
): TypeScore {
  const tp = matches.length;
  return {
    type,
    truths,
    detections,
    tp,
    fp: detections - tp,
    fn: truths - tp,
    precision: ratio(tp, detections),
    recall: ratio(tp, truths),
    latency: latencyOf(matches.map((m) => m.latencyMs)),
  };
}

export function score(
  truths: readonly Truth[],
  detections: readonly Detection[],
  opts: ScoreOptions = {},
): ScoreResult {
  const tol = opts.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const units = opts.vehicles ? new Set(opts.vehicles) : undefined;
  // An OFFLINE starts where the silence did (last fix + allowance), never late: one starting after the
  // run's end is the fleet having stopped with the run (the platform keeps judging it), not in the truth.
  const lateness = (d: Detection) => (d.code === 'OFFLINE' ? 0 : tol);
  const inScope = (d: Detection) =>
    (units === undefined || units.has(d.vehicle)) &&
    (opts.window === undefined ||
      (d.startTs >= opts.window.start && d.startTs <= opts.window.end + lateness(d)));
  const kept = detections.filter(inScope);
  const ignored = detections.length - kept.length;

  // candidate pairs per (vehicle, type), closest starts first
  const pairs: Array<{ ti: number; di: number; gap: number }> = [];
  const byKey = new Map<string, number[]>();
  kept.forEach((d, di) => {
    const k = `${d.vehicle}\u0000${d.code}`;
    byKey.set(k, [...(byKey.get(k) ?? []), di]);
  });
  truths.forEach((t, ti) => {
    for (const di of byKey.get(`${t.vehicle}\u0000${t.type}`) ?? []) {
      const d = kept[di]!;
      if (overlaps(t, d, tol)) pairs.push({ ti, di, gap: Math.abs(d.startTs - t.start) });
    }
  });
  pairs.sort((a, b) => a.gap - b.gap || a.ti - b.ti || a.di - b.di);
  const tUsed = new Set<number>();
  const dUsed = new Set<number>();
  const matches: Match[] = [];
  for (const p of pairs) {
    if (tUsed.has(p.ti) || dUsed.has(p.di)) continue;
    tUsed.add(p.ti);
    dUsed.add(p.di);
    const truth = truths[p.ti]!;
    const detection = kept[p.di]!;
    matches.push({ truth, detection, latencyMs: (detection.detectedTs ?? detection.startTs) - truth.start });
  }
  matches.sort((a, b) => a.truth.start - b.truth.start);

  const types = [...new Set([...truths.map((t) => t.type), ...kept.map((d) => d.code)])].sort();
  const byType = types.map((type) =>
    tally(
      type,
      truths.filter((t) => t.type === type).length,
      kept.filter((d) => d.code === type).length,
      matches.filter((m) => m.truth.type === type),
    ),
  );
  return {
    toleranceMs: tol,
    byType,
    total: tally('ALL', truths.length, kept.length, matches),
    matches,
    missed: truths.filter((_, i) => !tUsed.has(i)),
    falseAlarms: kept.filter((_, i) => !dUsed.has(i)),
    ignored,
  };
}

const pct = (x: number | null) => (x === null ? '-' : x.toFixed(3));
const secs = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

/** The result as a fixed-width table (latencies in seconds). */
export function scoreTable(r: ScoreResult): string {
  const head = [
    'type',
    'truth',
    'detected',
    'TP',
    'FP',
    'FN',
    'precision',
    'recall',
    'lat.median s',
    'lat.p95 s',
  ];
  const rows = [...r.byType, r.total].map((s) => [
    s.type,
    String(s.truths),
    String(s.detections),
    String(s.tp),
    String(s.fp),
    String(s.fn),
    pct(s.precision),
    pct(s.recall),
    secs(s.latency?.medianMs),
    secs(s.latency?.p95Ms),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(head), rule, ...rows.slice(0, -1).map(fmt), rule, fmt(rows.at(-1)!)].join('\n');
}

/** The result as JSON-ready data (latencies in seconds, the unmatched cases listed). */
export function scoreJson(r: ScoreResult) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const type = (s: TypeScore) => ({
    type: s.type,
    truths: s.truths,
    detections: s.detections,
    tp: s.tp,
    fp: s.fp,
    fn: s.fn,
    precision: s.precision,
    recall: s.recall,
    latencyS: s.latency
      ? { n: s.latency.n, median: s.latency.medianMs / 1000, p95: s.latency.p95Ms / 1000 }
      : null,
  });
  return {
    toleranceS: r.toleranceMs / 1000,
    byType: r.byType.map(type),
    total: type(r.total),
    ignoredDetections: r.ignored,
    missed: r.missed.map((t) => ({ vehicle: t.vehicle, type: t.type, start: iso(t.start), end: iso(t.end) })),
    falseAlarms: r.falseAlarms.map((d) => ({
      id: d.id ?? null,
      vehicle: d.vehicle,
      type: d.code,
      start: iso(d.startTs),
      end: iso(d.endTs),
    })),
  };
}
