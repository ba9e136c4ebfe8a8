/**
 * Detection scoring (simulators/scenario/score.ts), on hand-made truths and detections whose figures are worked
 * out by hand in the comments; the truth file format; the detections file formats; `sim score`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { GroundTruth } from '../../simulators/scenario/fleet-types.ts';
import { type Detection, latencyOf, score, scoreJson, scoreTable } from '../../simulators/scenario/score.ts';
import { parseDetections } from '../../simulators/scenario/score-io.ts';
import { parseTruth, type Truth, truthJsonl } from '../../simulators/scenario/truth.ts';

const S = 1000;
const T0 = Date.UTC(2025, 5, 2);

test('TP, FP, FN, precision, recall and latency of one type, worked by hand', (t) => {
  const truths: Truth[] = [
    { vehicle: 'v1', type: 'OFF_ROUTE', start: T0 + 10 * S, end: T0 + 70 * S },
    { vehicle: 'v1', type: 'OFF_ROUTE', start: T0 + 600 * S, end: T0 + 700 * S },
    { vehicle: 'v2', type: 'OFF_ROUTE', start: T0, end: T0 + 100 * S },
  ];
  const detections: Detection[] = [
    // overlaps truth 1: TP, latency +2 s
    { vehicle: 'v1', code: 'OFF_ROUTE', startTs: T0 + 12 * S, endTs: T0 + 72 * S },
    // still open, overlaps truth 2: TP, latency +5 s
    { vehicle: 'v1', code: 'OFF_ROUTE', startTs: T0 + 605 * S },
    // 300-360 s: more than 60 s after truth 1 ends (70 s) and before truth 2 starts (600 s): FP
    { vehicle: 'v1', code: 'OFF_ROUTE', startTs: T0 + 300 * S, endTs: T0 + 360 * S },
    // a vehicle with no truth: FP
    { vehicle: 'v3', code: 'OFF_ROUTE', startTs: T0, endTs: T0 + 10 * S },
    // right time, wrong type: an FP of OVERSPEED, no help to OFF_ROUTE's truth of v2
    { vehicle: 'v2', code: 'OVERSPEED', startTs: T0 + 5 * S, endTs: T0 + 50 * S },
  ];
  const r = score(truths, detections);
  const offRoute = r.byType.find((s) => s.type === 'OFF_ROUTE')!;
  t.like(offRoute, { truths: 3, detections: 4, tp: 2, fp: 2, fn: 1, precision: 0.5 });
  t.is(offRoute.recall, 2 / 3);
  // latencies 2 s and 5 s: median (2 + 5) / 2 = 3.5 s; p95 = rank ceil(0.95 x 2) = 2 -> 5 s
  t.deepEqual(offRoute.latency, { n: 2, medianMs: 3500, p95Ms: 5000 });
  const overspeed = r.byType.find((s) => s.type === 'OVERSPEED')!;
  t.like(overspeed, {
    truths: 0,
    detections: 1,
    tp: 0,
    fp: 1,
    fn: 0,
    precision: 0,
    recall: null,
    latency: null,
  });
  t.like(r.total, { truths: 3, detections: 5, tp: 2, fp: 3, fn: 1, precision: 0.4 });
  t.deepEqual(
    r.missed.map((m) => m.vehicle),
    ['v2'],
  );
  t.is(r.falseAlarms.length, 3);
});

test('tolerance: an instantaneous truth matches a detection within it, not beyond', (t) => {
  const truths: Truth[] = [
    { vehicle: 'v1', type: 'ILLEGAL_DUMP', start: T0, end: T0 },
    { vehicle: 'v1', type: 'ILLEGAL_DUMP', start: T0 + 3600 * S, end: T0 + 3600 * S },
  ];
  const detections: Detection[] = [
    { vehicle: 'v1', code: 'ILLEGAL_DUMP', startTs: T0 + 59 * S, endTs: T0 + 59 * S },
    { vehicle: 'v1', code: 'ILLEGAL_DUMP', startTs: T0 + 3661 * S, endTs: T0 + 3661 * S },
  ];
  const r = score(truths, detections, { toleranceMs: 60 * S });
  t.like(r.total, { tp: 1, fp: 1, fn: 1 });
  t.is(r.matches[0]?.latencyMs, 59 * S);
  const strict = score(truths, detections, { toleranceMs: 0 });
  t.like(strict.total, { tp: 0, fp: 2, fn: 2 });
  const loose = score(truths, detections, { toleranceMs: 120 * S });
  t.like(loose.total, { tp: 2, fp: 0, fn: 0 });
});

test('each truth and each detection is matched at most once, closest starts first', (t) => {
  // one long truth, a detection split in two: the closer start is the TP, the rest an FP
  const split = score(
    [{ vehicle: 'v1', type: 'OFF_HOURS', start: T0, end: T0 + 600 * S }],
    [
      { vehicle: 'v1', code: 'OFF_HOURS', startTs: T0 + 300 * S, endTs: T0 + 400 * S },
      { vehicle: 'v1', code: 'OFF_HOURS', startTs: T0 + 10 * S, endTs: T0 + 20 * S },
    ],
  );
  t.like(split.total, { tp: 1, fp: 1, fn: 0 });
  t.is(split.matches[0]?.latencyMs, 10 * S);
  // two truths, one detection covering both: one TP (the truth starting with it), one FN
  const merged = score(
    [
      { vehicle: 'v1', type: 'SPILLAGE', start: T0, end: T0 + 10 * S },
      { vehicle: 'v1', type: 'SPILLAGE', start: T0 + 20 * S, end: T0 + 30 * S },
    ],
    [{ vehicle: 'v1', code: 'SPILLAGE', startTs: T0, endTs: T0 + 30 * S }],
  );
  t.like(merged.total, { tp: 1, fp: 0, fn: 1 });
  t.is(merged.matches[0]?.truth.start, T0);
  t.is(merged.missed[0]?.start, T0 + 20 * S);
});

test('latency: median of an even count is the mean of the middle two; p95 is the nearest rank; negatives kept', (t) => {
  // 1..20 s: median (10 + 11) / 2 = 10.5 s; p95 rank ceil(19) = 19 -> 19 s
  t.deepEqual(latencyOf(Array.from({ length: 20 }, (_, i) => (i + 1) * S)), {
    n: 20,
    medianMs: 10_500,
    p95Ms: 19_000,
  });
  // -5, 0, 5, 40 (unsorted in): median (0 + 5) / 2 = 2.5 s; p95 rank ceil(3.8) = 4 -> 40 s
  t.deepEqual(latencyOf([40 * S, -5 * S, 5 * S, 0]), { n: 4, medianMs: 2500, p95Ms: 40_000 });
  t.deepEqual(latencyOf([7 * S]), { n: 1, medianMs: 7000, p95Ms: 7000 });
  t.is(latencyOf([]), null);
  // a detector that starts before the truth gives a negative latency
  const r = score(
    [{ vehicle: 'v1', type: 'OVERSPEED', start: T0 + 30 * S, end: T0 + 60 * S }],
    [{ vehicle: 'v1', code: 'OVERSPEED', startTs: T0 + 25 * S, endTs: T0 + 60 * S }],
  );
  t.is(r.matches[0]?.latencyMs, -5 * S);
});

test('scope: detections of other vehicles and outside the run (+ tolerance) are ignored, not false alarms', (t) => {
  const truths: Truth[] = [{ vehicle: 'v1', type: 'OFFLINE', start: T0 + 100 * S, end: T0 + 200 * S }];
  const detections: Detection[] = [
    { vehicle: 'v1', code: 'OFFLINE', startTs: T0 + 100 * S, endTs: T0 + 200 * S },
    // the OFFLINE every device raises once the run has stopped
    { vehicle: 'v1', code: 'OFFLINE', startTs: T0 + 3700 * S },
    // inside the tolerance after the end: kept (an FP here)
    { vehicle: 'v1', code: 'OVERSPEED', startTs: T0 + 3630 * S },
    // an OFFLINE after the end is the fleet stopping with the run, even inside the tolerance: ignored
    { vehicle: 'v1', code: 'OFFLINE', startTs: T0 + 3630 * S },
    // before the run
    { vehicle: 'v1', code: 'OFFLINE', startTs: T0 - 10 * S, endTs: T0 - 5 * S },
    // another platform user's vehicle
    { vehicle: 'other', code: 'OFFLINE', startTs: T0 + 150 * S },
  ];
  const r = score(truths, detections, { window: { start: T0, end: T0 + 3600 * S }, vehicles: ['v1', 'v2'] });
  t.is(r.ignored, 4);
  t.like(r.total, { tp: 1, fp: 1, fn: 0, detections: 2 });
});

test('table and JSON: one row per type and a total; null where nothing divides', (t) => {
  const r = score(
    [{ vehicle: 'v1', type: 'TRACK_GAP', start: T0, end: T0 + 400 * S }],
    [{ vehicle: 'v1', code: 'TRACK_GAP', startTs: T0, endTs: T0 + 400 * S }],
  );
  const table = scoreTable(r).split('\n');
  t.regex(
    table[0]!,
    /^type\s+truth\s+detected\s+TP\s+FP\s+FN\s+precision\s+recall\s+lat\.median s\s+lat\.p95 s$/,
  );
  t.regex(table[2]!, /^TRACK_GAP\s+1\s+1\s+1\s+0\s+0\s+1\.000\s+1\.000\s+0\.0\s+0\.0$/);
  t.regex(table.at(-1)!, /^ALL\s+1\s+1\s+1\s+0\s+0\s+1\.000\s+1\.000/);
  const j = scoreJson(score([{ vehicle: 'v1', type: 'OVERLOAD', start: T0, end: T0 + 90 * S }], []));
  t.like(j.byType[0], { type: 'OVERLOAD', tp: 0, fn: 1, precision: null, recall: 0, latencyS: null });
  t.deepEqual(j.missed, [
    {
      vehicle: 'v1',
      type: 'OVERLOAD',
      start: new Date(T0).toISOString(),
      end: new Date(T0 + 90 * S).toISOString(),
    },
  ]);
});

test('truth file: written and read back; a bad line is named', (t) => {
  const truths: GroundTruth[] = [
    {
      vehicle: 'v1',
      device: 'd1',
      type: 'OFF_ROUTE',
      start: T0,
      end: T0 + 60 * S,
      details: {},
      injected: true,
      trip: 0,
    },
    { vehicle: 'v1', device: 'd1', type: 'OFFLINE', start: T0 + 90 * S, details: {}, injected: false },
  ];
  const text = truthJsonl(
    {
      scenario: 'x',
      seed: 3,
      start: new Date(T0).toISOString(),
      end: new Date(T0 + 3600 * S).toISOString(),
      vehicles: ['v1'],
    },
    truths,
  );
  const lines = text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.like(lines[1], {
    record: 'violation',
    type: 'OFF_ROUTE',
    start: '2025-06-02T00:00:00.000Z',
    end: '2025-06-02T00:01:00.000Z',
  });
  t.is(lines[2].end, null);
  const back = parseTruth(text);
  t.deepEqual(back.run, { start: T0, end: T0 + 3600 * S, vehicles: ['v1'], scenario: 'x', seed: 3 });
  t.deepEqual(back.truths, [
    { vehicle: 'v1', type: 'OFF_ROUTE', start: T0, end: T0 + 60 * S, injected: true },
    { vehicle: 'v1', type: 'OFFLINE', start: T0 + 90 * S, injected: false },
  ]);
  t.throws(
    () => parseTruth(`${text}{"record":"violation","vehicle":"v1","type":"NOPE","start":"x"}\n`, 'f.jsonl'),
    {
      message: /^f\.jsonl:4: type: expected one of OFF_ROUTE/,
    },
  );
});

test('detections: an array, an API page or JSON Lines of violations', (t) => {
  const v = { id: 'v1:OFF_ROUTE:1', code: 'OFF_ROUTE', vehicle: 'v1', firm: 'f', startTs: T0, endTs: T0 + S };
  const one: Detection = {
    id: 'v1:OFF_ROUTE:1',
    vehicle: 'v1',
    code: 'OFF_ROUTE',
    startTs: T0,
    endTs: T0 + S,
  };
  t.deepEqual(parseDetections(JSON.stringify([v])), [one]);
  t.deepEqual(parseDetections(JSON.stringify({ items: [v], nextCursor: undefined })), [one]);
  t.deepEqual(parseDetections(`${JSON.stringify(v)}\n${JSON.stringify({ ...v, endTs: undefined })}\n`), [
    one,
    { id: 'v1:OFF_ROUTE:1', vehicle: 'v1', code: 'OFF_ROUTE', startTs: T0 },
  ]);
  t.throws(() => parseDetections(JSON.stringify([{ ...v, code: 'X' }]), 'd.json'), {
    message: /^d\.json\[0\]: code/,
  });
});

test('sim score: a table from files; --json; --min-recall fails the exit status', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-score-'));
  const truthFile = join(dir, 'truth.jsonl');
  const detFile = join(dir, 'det.json');
  await writeFile(
    truthFile,
    truthJsonl(
      {
        scenario: 'x',
        seed: 1,
        start: new Date(T0).toISOString(),
        end: new Date(T0 + 3600 * S).toISOString(),
        vehicles: ['v1'],
      },
      [
        {
          vehicle: 'v1',
          device: 'd1',
          type: 'OVERSPEED',
          start: T0 + 10 * S,
          end: T0 + 40 * S,
          details: {},
          injected: true,
        },
        {
          vehicle: 'v1',
          device: 'd1',
          type: 'OVERSPEED',
          start: T0 + 900 * S,
          end: T0 + 930 * S,
          details: {},
          injected: true,
        },
      ],
    ),
  );
  await writeFile(
    detFile,
    JSON.stringify({
      items: [{ vehicle: 'v1', code: 'OVERSPEED', startTs: T0 + 15 * S, endTs: T0 + 40 * S }],
    }),
  );
  const sim = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'simulators/cli.ts',
        'score',
        '--truth',
        truthFile,
        '--detections',
        detFile,
        ...args,
      ],
      {
        encoding: 'utf8',
      },
    );
  const plain = sim();
  t.is(plain.status, 0, plain.stderr);
  t.regex(plain.stdout, /^OVERSPEED\s+2\s+1\s+1\s+0\s+1\s+1\.000\s+0\.500\s+5\.0\s+5\.0$/m);
  const json = sim('--json');
  t.like(JSON.parse(json.stdout).total, {
    tp: 1,
    fp: 0,
    fn: 1,
    recall: 0.5,
    latencyS: { n: 1, median: 5, p95: 5 },
  });
  const goal = sim('--min-precision', '0.99', '--min-recall', '0.98');
  t.is(goal.status, 1);
  t.regex(goal.stderr, /below the goal: OVERSPEED \(precision 1, recall 0\.5\)/);
  const excluded = sim('--exclude', 'OVERSPEED', '--min-recall', '0.98');
  t.is(excluded.status, 0, excluded.stderr);
  t.is(sim('--tolerance-s', 'x').status, 2);
});
