/**
 * Scenario files (simulators/scenario/file.ts): validation naming the field at fault, the bundled
 * scenarios against the demo world they are built from, plans and per-unit twists.
 */
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { parseScenario, readScenario, validateScenario } from '../../simulators/scenario/file.ts';
import type { ScenarioFile } from '../../simulators/scenario/file-schema.ts';
import { BUNDLED } from '../../simulators/scenarios/build.ts';
import { minimal } from '../support/simulators/scenario.ts';

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
