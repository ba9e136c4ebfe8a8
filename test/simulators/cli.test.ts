/**
 * The fleet simulator (issue 5): determinism, the ground truth against what was injected, scenario file
 * validation, the bundled scenarios, and the `sim` command line (help, dry runs, a run against a real
 * aedes broker checking each device's credentials, offline provisioning).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  RouteFeatureInSchema,
  SiteFeatureInSchema,
  ZoneFeatureInSchema,
} from '../../api/compliance-schemas.ts';
import { startBareAedes } from '../../bench/aedes.ts';
import { decodeTelemetry } from '../../ingest/decode.ts';
import { OFFLINE_SCORING_HELP } from '../../simulators/cli/common.ts';
import { mergeInjections, parseInjectSpec } from '../../simulators/faults/inject-spec.ts';
import { readCredentialsFile } from '../../simulators/load/credentials.ts';
import { brokerUnreachable } from '../../simulators/scenario/broker-probe.ts';
import { parseScenario, readScenario, validateScenario } from '../../simulators/scenario/file.ts';
import type { ScenarioFile } from '../../simulators/scenario/file-schema.ts';
import { FleetSim } from '../../simulators/scenario/fleet-sim.ts';
import type { SimMessage } from '../../simulators/scenario/fleet-types.ts';
import { brokerUrlOf, type HealthBody } from '../../simulators/scenario/platform-settle.ts';
import { offlineFiles } from '../../simulators/scenario/provision.ts';
import { buildWorld, unitOf } from '../../simulators/scenario/world.ts';
import { BUNDLED } from '../../simulators/scenarios/build.ts';
import { freePort } from '../../testkit/servers/ports.ts';
import { ADMIN_TOKEN, startTestPlatform } from '../support/platform.ts';

const BASIC = 'simulators/scenarios/hefei-basic.json';
const FLEET = 'simulators/scenarios/hefei-fleet.yaml';
const START = Date.UTC(2025, 5, 2, 0, 0, 0); // 08:00 in Hefei
const MIN = 60_000;
const FAULTS = 'DUPLICATE:0.02,OUT_OF_ORDER:0.01,MALFORMED:0.01,DROPOUT:0.01,DRIFT:0.002';

async function simOf(file: string, seed: number, minutes: number, inject = '', noiseM = 15) {
  const scenario = await readScenario(file);
  const injections = mergeInjections(scenario.injections, parseInjectSpec(inject));
  const world = buildWorld(scenario, { startTs: START, durationMs: minutes * MIN, seed, injections });
  return new FleetSim(world, { seed, noiseM, injections });
}

const all = (sim: FleetSim): SimMessage[] => [...sim.messages()];

test('same seed, same messages byte for byte; another seed, other messages', async (t) => {
  const a = all(await simOf(BASIC, 5, 60, FAULTS));
  const b = all(await simOf(BASIC, 5, 60, FAULTS));
  t.true(a.length > 5000, `${a.length} messages`);
  t.is(JSON.stringify(a), JSON.stringify(b));
  const c = all(await simOf(BASIC, 6, 60, FAULTS));
  t.not(JSON.stringify(c), JSON.stringify(a));
  // every kind of message occurs, in send order
  t.deepEqual([...new Set(a.map((m) => m.kind))].sort(), ['duplicate', 'fix', 'late', 'malformed']);
  t.true(a.every((m, i) => i === 0 || m.ts >= a[i - 1]!.ts));
});

test('what ingest makes of the messages: fixes decode, malformed payloads are refused, late fixes are older', async (t) => {
  const sim = await simOf(BASIC, 2, 45, FAULTS);
  const devices = new Map(sim.world.devices.map((d) => [d.id, d]));
  const newest = new Map<string, number>();
  const counts: Record<string, number> = { fix: 0, duplicate: 0, late: 0, malformed: 0 };
  for (const m of sim.messages()) {
    const d = devices.get(m.device)!;
    const device = {
      id: d.id,
      kind: d.kind,
      unit: unitOf(d),
      firm: d.firm,
      reportIntervalS: 10,
      enabled: true,
    };
    const r = decodeTelemetry({ deviceId: d.id, payload: Buffer.from(m.payload), receivedMs: m.ts, device });
    counts[m.kind] = (counts[m.kind] ?? 0) + 1;
    if (m.kind === 'malformed') {
      t.is(r.fixes.length, 0, m.payload);
      continue;
    }
    t.deepEqual(r.rejections, [], m.payload);
    const fix = r.fixes[0]!;
    t.is(fix.vehicle, unitOf(d));
    if (m.kind === 'late') t.true(fix.ts < (newest.get(d.id) ?? 0));
    else if (m.kind === 'fix') newest.set(d.id, Math.max(newest.get(d.id) ?? 0, fix.ts));
  }
  t.true(
    Object.values(counts).every((n) => n > 0),
    JSON.stringify(counts),
  );
});

test('ground truth matches the injections: per vehicle, one violation of its type per trip, nothing on the clean ones', async (t) => {
  const sim = await simOf(BASIC, 1, 180);
  for (const _ of sim.messages());
  const truth = sim.groundTruth();
  const trips = sim.trips();
  const scenario = await readScenario(BASIC);
  const injected = new Map(scenario.injections.map((i) => [i.vehicle!, i.type]));
  t.is(injected.size, 12);
  t.deepEqual(
    trips.filter((r) => r.skipped),
    [],
    'every injection could be built on its haul',
  );
  for (const unit of new Set(sim.world.devices.map(unitOf))) {
    const mine = truth.filter((v) => v.vehicle === unit);
    const type = injected.get(unit);
    if (type === undefined) {
      t.deepEqual(mine, [], `${unit} drives clean`);
      continue;
    }
    const myTrips = trips.filter((r) => r.vehicle === unit);
    const completed = myTrips.slice(0, -1);
    t.true(completed.length >= 2, `${unit}: ${completed.length} complete trips in 3 h`);
    for (const trip of completed) {
      const found = mine.filter((v) => v.trip === trip.trip && v.type === type);
      t.true(found.every((v) => v.injected));
      // OFF_HOURS can be split by a stop of a minute or more at a red light; the others are one per trip
      if (type === 'OFF_HOURS') t.true(found.length >= 1, `${unit} trip ${trip.trip}`);
      else t.is(found.length, 1, `${unit} trip ${trip.trip}: ${type} x${found.length}`);
      if (type !== 'NO_PERMIT' && type !== 'OFF_HOURS') t.is(trip.twist?.type as string, type);
    }
    // nothing but the injected type (a TRACK_GAP's 6 min silence is under the 10 min OFFLINE allowance,
    // and the OFFLINE truck is parked through its silence: no TRACK_GAP)
    t.deepEqual(
      mine.filter((v) => v.type !== type),
      [],
      `${unit}: only ${type}`,
    );
  }
  // the thresholds hold in the truth: the figures the rule definitions ask for
  const of = (type: string) => truth.filter((v) => v.type === type && v.end !== undefined);
  for (const v of of('OVERSPEED'))
    t.true(v.end! - v.start >= 10_000 && Number(v.details.maxSpeedKmh) > Number(v.details.limitKmh));
  for (const v of of('SUSPECTED_DUMP')) t.true(v.end! - v.start > 5 * MIN);
  for (const v of of('OVERLOAD'))
    t.true(v.end! - v.start >= MIN && Number(v.details.maxWeightT) > Number(v.details.ratedLoadT));
  for (const v of of('TRACK_GAP')) t.true(Number(v.details.gapMs) > 5 * MIN);
  for (const v of of('OFFLINE')) t.true(Number(v.details.gapMs) > 10 * MIN);
  for (const v of of('OFF_ROUTE')) t.true(v.end! - v.start >= MIN);
});

test('rates: per-trip twists are drawn near their rates; vehicle-level ones change the permits', async (t) => {
  const sim = await simOf(FLEET, 3, 8 * 60, 'OFF_ROUTE:0.3,NO_PERMIT:0.25');
  for (const _ of sim.messages());
  const trips = sim.trips().filter((r) => r.vehicle.startsWith('veh-hf-'));
  const share = trips.filter((r) => r.twist?.type === 'OFF_ROUTE').length / trips.length;
  t.true(share > 0.2 && share < 0.4, `OFF_ROUTE on ${(share * 100).toFixed(0)} % of ${trips.length} trips`);
  const noPermit = [...sim.world.vehicleInjections]
    .filter(([, type]) => type === 'NO_PERMIT')
    .map(([v]) => v);
  t.true(noPermit.length >= 2, noPermit.join());
  for (const v of noPermit) t.false(sim.world.permits.some((p) => p.vehicles.includes(v)));
  const truth = sim.groundTruth();
  for (const v of noPermit)
    t.true(truth.some((x) => x.vehicle === v && x.type === 'NO_PERMIT' && x.injected));
});

const minimal = (): Record<string, unknown> => ({
  version: 1,
  name: 'tiny',
  firms: [{ id: 'f', name: 'F' }],
  vehicles: [{ id: 'v', plate: '皖A·00001', kind: 'muck_truck', firm: 'f', ratedLoadT: 18 }],
  devices: [{ id: 'd', secret: 'a-secret-of-16-chars', kind: 'muck_truck', vehicle: 'v', firm: 'f' }],
  sites: [
    {
      id: 'o',
      kind: 'origin',
      name: 'O',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.2, 31.8],
            [117.201, 31.8],
            [117.201, 31.801],
            [117.2, 31.8],
          ],
        ],
      },
    },
    {
      id: 'x',
      kind: 'disposal',
      name: 'X',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.3, 31.8],
            [117.301, 31.8],
            [117.301, 31.801],
            [117.3, 31.8],
          ],
        ],
      },
    },
  ],
  routes: [
    {
      id: 'r',
      name: 'R',
      geometry: {
        type: 'LineString',
        coordinates: [
          [117.2005, 31.8003],
          [117.3005, 31.8003],
        ],
      },
    },
  ],
  permits: [
    {
      id: 'p',
      firm: 'f',
      vehicles: ['v'],
      origins: ['o'],
      disposals: ['x'],
      routes: ['r'],
      windows: ['00:00-24:00'],
    },
  ],
});

function problems(doc: unknown, source = 'x.json'): string[] {
  try {
    validateScenario(doc, source);
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
  return [];
}

test('scenario validation names the field at fault', (t) => {
  t.deepEqual(problems(minimal()), []);
  const bad = minimal() as {
    permits: Array<Record<string, unknown>>;
    devices: Array<Record<string, unknown>>;
  };
  bad.permits[0]!.windows = ['00:00-24:00', '7:00-9:00'];
  bad.devices[0]!.secret = 'short';
  t.deepEqual(problems(bad), [
    'devices[0].secret: a device secret needs at least 16 characters (the API refuses shorter ones)',
    'permits[0].windows[1]: expected HH:MM-HH:MM',
  ]);
  const refs = minimal() as { permits: Array<Record<string, unknown>>; injections?: unknown[] };
  refs.permits[0]!.disposals = ['o'];
  refs.permits[0]!.routes = ['nope'];
  refs.injections = [
    { type: 'OFF_ROUTE', rate: 0.7 },
    { type: 'OVERSPEED', rate: 0.4 },
    { type: 'DUPLICATE', vehicle: 'v' },
  ];
  t.deepEqual(problems(refs), ['injections[2].vehicle: DUPLICATE is injected by rate only']);
  refs.injections = [
    { type: 'OFF_ROUTE', rate: 0.7 },
    { type: 'OVERSPEED', rate: 0.4 },
  ];
  t.deepEqual(problems(refs), [
    "permits[0].disposals[0]: site 'o' is of kind origin, expected disposal",
    "permits[0].routes[0]: unknown route 'nope'",
    'injections: the per-trip rates add up to 1.100: a trip takes at most one twist (<= 1)',
  ]);
  const geo = minimal() as { sites: Array<{ geometry: { coordinates: number[][][] } }> };
  geo.sites[1]!.geometry.coordinates[0]![2] = [200, 31.8];
  geo.sites[0]!.geometry.coordinates[0]!.pop();
  t.deepEqual(problems(geo), [
    'sites[0].geometry.coordinates[0]: a ring needs at least 4 positions',
    'sites[0].geometry.coordinates[0]: ring not closed: the last position must repeat the first',
    'sites[1].geometry.coordinates[0][2][0]: longitude out of range',
  ]);
  // YAML is read as YAML and the same paths come out
  const yaml =
    'version: 1\nname: y\nfirms:\n  - id: f\n    name: F\nzones:\n  - id: z\n    kind: speed\n    name: Z\n    geometry: {type: Polygon, coordinates: [[[117, 31], [117.1, 31], [117.1, 31.1], [117, 31]]]}\n';
  t.throws(() => parseScenario(yaml, 'y.yaml'), {
    message: /zones\[0\]\.speedLimitKmh: a speed zone needs its limit/,
  });
  t.throws(() => parseScenario('{"version": 1,', 'broken.json'), {
    message: /broken\.json: invalid scenario\n {2}not valid JSON/,
  });
});

test('the bundled scenarios are valid and match the demo world they are built from', async (t) => {
  for (const [name, render] of Object.entries(BUNDLED)) {
    const path = `simulators/scenarios/${name}`;
    t.is(
      await readFile(path, 'utf8'),
      render(),
      `${path} is stale: run node --import tsx simulators/scenarios/build.ts`,
    );
    const s: ScenarioFile = await readScenario(path);
    if (name === 'hefei-sanitation.json') {
      // issue 15: no 两点一线 world, the plans instead, and a unit per plan
      t.true(s.sites.length === 0 && s.permits.length === 0, name);
      t.is(s.plans?.sweepPlans.length, s.vehicles.filter((v) => v.id.startsWith('veh-h062')).length);
      t.is(s.plans?.dutyPlans.length, s.devices.filter((d) => d.kind === 'body_camera').length);
      t.is(
        s.plans?.collectionPoints.length,
        3 * s.vehicles.filter((v) => v.id.startsWith('veh-h063')).length,
      );
      continue;
    }
    t.true(
      s.sites.length === 5 && s.routes.length === 2 && s.zones.length === 2 && s.permits.length === 2,
      name,
    );
  }
});

test('a scenario file: plan windows relative to the run, plans naming what the scenario has, twists per unit', (t) => {
  const base = {
    version: 1,
    name: 'plans',
    firms: [{ id: 'firm-s', name: 'S' }],
    vehicles: [{ id: 'veh-s1', plate: 'A1', kind: 'sanitation', firm: 'firm-s' }],
    devices: [
      { id: 'dev-s1', secret: 'sixteen-chars-secret', kind: 'sanitation', vehicle: 'veh-s1', firm: 'firm-s' },
      { id: 'cam-s1', secret: 'sixteen-chars-secret', kind: 'body_camera', firm: 'firm-s' },
    ],
  };
  const line = {
    type: 'LineString',
    coordinates: [
      [117.2, 31.8],
      [117.21, 31.8],
    ],
  };
  const ok = validateScenario({
    ...base,
    plans: {
      sweepPlans: [
        {
          id: 'sp-1',
          firm: 'firm-s',
          name: 'p',
          geometry: line,
          windows: ['+0:10-+0:55', '06:00-08:00'],
          vehicles: ['veh-s1'],
        },
      ],
    },
    injections: [
      { type: 'SWEEP_OVERSPEED', vehicle: 'veh-s1', trips: [1] },
      { type: 'SOS', vehicle: 'cam-s1' },
    ],
  });
  t.is(ok.plans?.sweepPlans[0]?.windows[0], '+0:10-+0:55');
  const err = t.throws(() =>
    validateScenario({
      ...base,
      plans: {
        sweepPlans: [
          {
            id: 'sp-1',
            firm: 'firm-s',
            name: 'p',
            geometry: line,
            windows: ['+0:55-+0:10'],
            vehicles: ['veh-x'],
          },
        ],
        dutyPlans: [],
      },
      injections: [
        { type: 'OUT_OF_GRID', vehicle: 'veh-s1' },
        { type: 'SOS', rate: 0.1 },
      ],
    }),
  );
  t.regex(err.message, /plans\.sweepPlans\[0\]\.windows\[0\]: expected \+H:MM-\+H:MM/);
  const err2 = t.throws(() =>
    validateScenario({
      ...base,
      plans: {
        sweepPlans: [
          {
            id: 'sp-1',
            firm: 'firm-s',
            name: 'p',
            geometry: line,
            windows: ['+0:10-+0:55'],
            vehicles: ['veh-x'],
          },
        ],
      },
      injections: [
        { type: 'OUT_OF_GRID', vehicle: 'veh-s1' },
        { type: 'SOS', rate: 0.1 },
      ],
    }),
  );
  t.regex(err2.message, /plans\.sweepPlans\[0\]\.vehicles\[0\]: 'veh-x' is not a sanitation vehicle/);
  t.regex(err2.message, /injections\[0\]\.vehicle: 'veh-s1' is a sanitation: it takes MISSED_COLLECTION/);
  t.regex(err2.message, /injections\[1\]\.rate: SOS is injected per unit/);
});

// ---- the command line ----

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'simulators/cli.ts', ...args], { encoding: 'utf8' });
/** the CLI as a child while this process keeps serving (a platform in this process answers it) */
const cliAsync = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulators/cli.ts', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });

test('sim help and --help of every subcommand', (t) => {
  const top = cli(['help']);
  t.is(top.status, 0);
  for (const c of ['evaluate', 'run', 'score', 'provision', 'load'])
    t.regex(top.stdout, new RegExp(`^  ${c} `, 'm'));
  const expected: Record<string, string[]> = {
    run: [
      '--scenario',
      '--url',
      '--dry-run',
      '--seed',
      '--start',
      '--duration',
      '--speedup',
      '--interval',
      '--alarm-interval',
      '--noise-m',
      '--drift-m',
      '--inject',
      '--truth',
      '--messages',
      '--qos',
    ],
    score: [
      '--truth',
      '--api',
      '--token',
      '--detections',
      '--tolerance-s',
      '--json',
      '--min-precision',
      '--min-recall',
      '--exclude',
    ],
    provision: [
      '--scenario',
      '--offline',
      '--out',
      '--api',
      '--token',
      '--seed',
      '--start',
      '--duration',
      '--inject',
    ],
    load: ['--url', '--connections', '--rate', '--ids-file', '--qos'],
    evaluate: [
      '--scenario',
      '--api',
      '--token',
      '--url',
      '--speedup',
      '--noise-m',
      '--seed',
      '--start',
      '--duration',
      '--inject',
      '--truth',
      '--json',
      '--min-precision',
      '--min-recall',
      '--exclude',
      '--settle-timeout',
      'COMPLIANCE_CLOCK=fleet',
    ],
  };
  for (const [command, flags] of Object.entries(expected)) {
    const r = cli([command, '--help']);
    t.is(r.status, 0, command);
    t.regex(r.stdout, new RegExp(`^Usage: npm run sim -- ${command}`), command);
    for (const f of flags) t.true(r.stdout.includes(f), `${command} --help names ${f}`);
  }
  t.is(cli(['nope']).status, 2);
  const bad = cli(['run', '--scenario', BASIC, '--dry-run', '--inject', 'OFF_ROUTE:2']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--inject "OFF_ROUTE:2": a rate is a probability/);
  // evaluate checks its arguments before it touches a platform or runs for minutes
  const noApi = cli(['evaluate', '--scenario', BASIC, '--token', 'x'.repeat(20)]);
  t.is(noApi.status, 2);
  t.regex(noApi.stderr, /--api is required/);
  const badGoal = cli([
    'evaluate',
    '-s',
    BASIC,
    '--api',
    'http://127.0.0.1:9',
    '--token',
    't',
    '--min-recall',
    '2',
  ]);
  t.is(badGoal.status, 2);
  t.regex(badGoal.stderr, /--min-recall: expected a number 0\.\.1, got "2"/);
  const down = cli(['evaluate', '-s', BASIC, '--api', 'http://127.0.0.1:9', '--token', 't']);
  t.is(down.status, 1);
  t.regex(down.stderr, /the platform API at http:\/\/127\.0\.0\.1:9 is not reachable/);
  // run and evaluate say the same about scoring OFFLINE from a sped-up run
  const paragraph = OFFLINE_SCORING_HELP.replace(/\s+/g, ' ');
  for (const command of ['run', 'evaluate'])
    t.true(cli([command, '--help']).stdout.replace(/\s+/g, ' ').includes(paragraph), `${command} --help`);
});

test("evaluate finds the platform's broker from /healthz, and fails at once, saying why, when no broker answers", async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const health = (await (await fetch(`${tp.httpUrl}/healthz`)).json()) as HealthBody;
  t.is(brokerUrlOf(health, new URL('http://127.0.0.1:8080')), `mqtt://127.0.0.1:${tp.platform.ports.mqtt}`);
  t.is(brokerUrlOf({ components: {} }, new URL('http://h:1')), undefined, 'no broker of its own');
  t.is(await brokerUnreachable(tp.mqttUrl), undefined);

  // --url naming a port nobody listens on: refused before provisioning anything (no minutes of waiting,
  // no blaming of credentials)
  const closed = await freePort();
  const started = Date.now();
  const r = await cliAsync([
    'evaluate',
    '-s',
    BASIC,
    '--api',
    tp.httpUrl,
    '--token',
    ADMIN_TOKEN,
    '--url',
    `mqtt://127.0.0.1:${closed}`,
  ]);
  t.is(r.status, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(`no MQTT broker answers at mqtt://127\\.0\\.0\\.1:${closed}: connect ECONNREFUSED`),
  );
  t.deepEqual(tp.platform.registry.firms(), [], 'nothing was provisioned');
  t.log(`refused after ${Date.now() - started} ms`);
});

test('sim run: an invalid scenario fails with the field named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  const doc = minimal() as { permits: Array<Record<string, unknown>> };
  doc.permits[0]!.windows = ['22:00-6:00'];
  await writeFile(join(dir, 's.json'), JSON.stringify(doc));
  const r = cli(['run', '--scenario', join(dir, 's.json'), '--dry-run']);
  t.is(r.status, 2);
  t.regex(r.stderr, /permits\[0\]\.windows\[0\]: expected HH:MM-HH:MM/);
});

test('sim run --dry-run: same seed, same messages and truth files; another seed differs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  const run = (seed: number, tag: string) => {
    const r = cli([
      'run',
      '-s',
      BASIC,
      '--dry-run',
      '-d',
      '40m',
      '--start',
      '2025-06-02T08:00:00+08:00',
      '--seed',
      String(seed),
      '--noise-m',
      '15',
      '--inject',
      FAULTS,
      '--truth',
      join(dir, `${tag}.truth`),
      '--messages',
      join(dir, `${tag}.msg`),
      '-q',
    ]);
    t.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      messages: Record<string, number>;
      truth: { total: number };
    };
  };
  const a = run(9, 'a');
  run(9, 'b');
  run(10, 'c');
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  t.is(await read('a.msg'), await read('b.msg'));
  t.is(await read('a.truth'), await read('b.truth'));
  t.not(await read('a.msg'), await read('c.msg'));
  t.is(
    (await read('a.msg')).trim().split('\n').length,
    Object.values(a.messages).reduce((s, n) => s + n, 0) - a.messages.dropped! - a.messages.silent!,
  );
  t.regex(
    await read('a.truth'),
    /^\{"record":"run","scenario":"hefei-basic","seed":9,"start":"2025-06-02T00:00:00.000Z","end":"2025-06-02T00:40:00.000Z"/,
  );
  t.true(a.truth.total > 0);
});

test('sim run against an MQTT broker: each device logs in with its own secret; what arrives is what the run generated', async (t) => {
  const scenario = await readScenario(BASIC);
  const secrets = new Map(scenario.devices.map((d) => [d.id, d.secret]));
  const logins = new Map<string, boolean>();
  const broker = await startBareAedes(0, {
    authenticate: (client, username, password, done) => {
      const ok = username === client.id && password?.toString() === secrets.get(username ?? '');
      logins.set(client.id, ok);
      done(null, ok);
    },
  });
  t.teardown(() => broker.close());
  const received = new Map<string, string[]>();
  broker.aedes.on('publish', (packet, client) => {
    if (!client || !packet.topic.endsWith('/telemetry')) return;
    received.set(client.id, [...(received.get(client.id) ?? []), packet.payload.toString()]);
  });
  const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'simulators/cli.ts',
      'run',
      '-s',
      BASIC,
      '--url',
      broker.url,
      '--speedup',
      '600',
      '-d',
      '10m',
      '--start',
      '2025-06-02T00:00:00Z',
      '--seed',
      '4',
      '--inject',
      'DUPLICATE:0.05,OUT_OF_ORDER:0.05',
      '--messages',
      join(dir, 'm.jsonl'),
      '-q',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.on('close', r));
  t.is(code, 0, err);
  const summary = JSON.parse(out.trim().split('\n').at(-1)!);
  t.like(summary.publish, { devices: 22, connected: 22, failed: 0, notConnected: 0 });
  t.is(summary.publish.acked, summary.publish.published);
  t.is(logins.size, 22);
  t.true([...logins.values()].every(Boolean));
  const sent = (await readFile(join(dir, 'm.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SimMessage);
  const byDevice = new Map<string, string[]>();
  for (const m of sent) byDevice.set(m.device, [...(byDevice.get(m.device) ?? []), m.payload]);
  t.is(received.size, byDevice.size);
  for (const [device, payloads] of byDevice) t.deepEqual(received.get(device), payloads, device);
});

test('sim provision --offline: credentials for the load CLI and mosquitto_passwd, an ACL, the world as API bodies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-prov-'));
  const r = cli([
    'provision',
    '-s',
    BASIC,
    '--offline',
    '--out',
    dir,
    '--start',
    '2025-06-02T00:00:00Z',
    '-d',
    '2h',
  ]);
  t.is(r.status, 0, r.stderr);
  const creds = await readCredentialsFile(join(dir, 'devices.json'));
  t.is(creds.length, 22);
  t.deepEqual(creds[0], { id: 'dev-d1234', password: 'demo-only-secret-dev-d1234' });
  const passwd = (await readFile(join(dir, 'mosquitto.passwd'), 'utf8')).trim().split('\n');
  t.is(passwd.length, 22);
  t.is(passwd[0], 'dev-d1234:demo-only-secret-dev-d1234');
  t.regex(await readFile(join(dir, 'mosquitto.acl'), 'utf8'), /^pattern write devices\/%u\/telemetry$/m);
  const world = JSON.parse(await readFile(join(dir, 'world.json'), 'utf8'));
  for (const s of world.sites) t.true(SiteFeatureInSchema.safeParse(s).success, s.id);
  for (const x of world.routes) t.true(RouteFeatureInSchema.safeParse(x).success, x.id);
  for (const z of world.zones) t.true(ZoneFeatureInSchema.safeParse(z).success, z.id);
  // NO_PERMIT: the noPermit truck is on no permit; OFF_HOURS: the offHours truck has its own
  t.false(world.permits.some((p: { vehicles: string[] }) => p.vehicles.includes('veh-d2003')));
  const own = world.permits.filter((p: { vehicles: string[] }) => p.vehicles.includes('veh-f3001'));
  t.is(own.length, 1);
  t.deepEqual(own[0].windows, ['11:00-12:00']); // 08:00 local + ceil(2 h) + 1 h
  t.deepEqual(
    offlineFiles(
      buildWorld(await readScenario(BASIC), {
        startTs: START,
        durationMs: 2 * 3_600_000,
        seed: 1,
        injections: (await readScenario(BASIC)).injections,
      }),
    ).world,
    await readFile(join(dir, 'world.json'), 'utf8'),
  );
});
