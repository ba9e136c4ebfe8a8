import { VIOLATION_CODES } from '../../geofence/model.ts';
import { DEFAULT_TOLERANCE_MS, type Detection, score, scoreJson, scoreTable } from '../scenario/score.ts';
import { fetchViolations, readDetections } from '../scenario/score-io.ts';
import { readTruth } from '../scenario/truth.ts';
import { PLATFORM_OPTIONS, SCORING_OPTIONS, type SimCommand, simCommand } from './command.ts';
import { parseNumber, UsageError, usageFailed } from './common.ts';

export const SCORE_HELP = (
  prog: string,
) => `Usage: ${prog} score --truth <file> (--api <url> --token <t> | --detections <file>) [options]

Scores detected violations against a run's ground truth, per violation type: TP, FP, FN, precision,
recall, and the detection latency (when the platform raised it - truth start: median, 95th percentile;
the violation's detectedTs, or its startTs when the platform gives none). A detection
matches a truth of the same vehicle and type whose time range overlaps it once both are widened by the
tolerance; each truth and each detection match at most once (closest starts first). Detections of other
vehicles, or starting outside the run (+ tolerance), are ignored and counted; so are OFFLINE ones
starting after the run's end (the fleet stopped with the run: silence the truth does not cover).
OFFLINE from a sped-up run needs the platform on COMPLIANCE_CLOCK=fleet (see the README).

Options:
  --truth <file>          the ground truth written by \`run --truth\` (JSON Lines)
  --api <url>             platform API base (e.g. http://127.0.0.1:8080): GET /api/v1/violations, all pages
  --token <t>             bearer token for --api (or the CITYWATCH_TOKEN environment variable)
  --detections <file>     detected violations instead of --api: a JSON array, an API page {items}, or
                          JSON Lines of violations ({vehicle, code, startTs, endTs})
  --tolerance-s <s>       widening of both ranges when matching (default ${DEFAULT_TOLERANCE_MS / 1000})
  --json                  print the result as JSON (with the missed truths and false alarms) instead
                          of the table
  --min-precision <p>     exit 1 when a type's precision is below p (0..1)
  --min-recall <r>        exit 1 when a type's recall is below r (0..1)
  --exclude <types>       leave these types out of both sides, comma separated (e.g. OFFLINE when the
                          platform judges silence by its wall clock while the run was sped up)
  -h, --help              this text

Example:
  ${prog} score --truth truth.jsonl --api http://127.0.0.1:8080 --token "$TOKEN" \\
      --min-precision 0.99 --min-recall 0.98`;

const SCORE_OPTIONS = {
  ...PLATFORM_OPTIONS,
  ...SCORING_OPTIONS,
  truth: { type: 'string' },
  detections: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const scoreCommand: SimCommand = simCommand(SCORE_OPTIONS, SCORE_HELP, async (v, { out, write }) => {
  let tolS: number;
  let minP: number | undefined;
  let minR: number | undefined;
  const token = v.token ?? process.env.CITYWATCH_TOKEN;
  try {
    if (!v.truth) throw new UsageError('--truth is required');
    if ((v.api === undefined) === (v.detections === undefined))
      throw new UsageError('give --api or --detections');
    if (v.api !== undefined && !token) throw new UsageError('--api needs --token (or CITYWATCH_TOKEN)');
    tolS = parseNumber(v['tolerance-s'], '--tolerance-s', 0, 86_400) ?? DEFAULT_TOLERANCE_MS / 1000;
    minP = parseNumber(v['min-precision'], '--min-precision', 0, 1);
    minR = parseNumber(v['min-recall'], '--min-recall', 0, 1);
  } catch (e) {
    return usageFailed(e, write);
  }
  const excluded = new Set(
    (v.exclude ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );
  for (const x of excluded)
    if (!(VIOLATION_CODES as readonly string[]).includes(x))
      return usageFailed(new UsageError(`--exclude: unknown type ${x}`), write);
  const truth = await readTruth(v.truth);
  truth.truths = truth.truths.filter((t) => !excluded.has(t.type));
  const tol = tolS * 1000;
  let detections: Detection[];
  if (v.detections) detections = await readDetections(v.detections);
  else
    detections = await fetchViolations({
      api: v.api!,
      token: token!,
      ...(truth.run ? { from: truth.run.start - tol, to: truth.run.end + tol } : {}),
    });
  detections = detections.filter((d) => !excluded.has(d.code));
  const result = score(truth.truths, detections, {
    toleranceMs: tol,
    ...(truth.run
      ? { window: { start: truth.run.start, end: truth.run.end }, vehicles: truth.run.vehicles }
      : {}),
  });
  if (v.json) out.write(`${JSON.stringify(scoreJson(result))}\n`);
  else {
    out.write(`${scoreTable(result)}\n`);
    out.write(`tolerance ${tolS} s; ${result.ignored} detection(s) outside the run ignored\n`);
  }
  const failing = result.byType.filter(
    (s) =>
      (minP !== undefined && s.precision !== null && s.precision < minP) ||
      (minR !== undefined && s.recall !== null && s.recall < minR),
  );
  if (failing.length > 0) {
    write(
      `below the goal: ${failing.map((s) => `${s.type} (precision ${s.precision ?? '-'}, recall ${s.recall ?? '-'})`).join(', ')}\n`,
    );
    return 1;
  }
  return 0;
});
