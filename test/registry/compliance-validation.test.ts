/**
 * The compliance registry's validation (registry/compliance.ts, registry/geometry.ts): polygons, routes,
 * zones and permits, every issue named by its path; nothing stored on a refusal.
 */
import test from 'ava';
import type { Position } from '../../geofence/model.ts';
import { ConflictError } from '../../registry/compliance.ts';
import { squareFrom } from '../support/geometry.ts';
import { issuesOf, LINE, ORIGIN, open, PERMIT, seed } from '../support/registry/compliance.ts';

test('validation: self-intersecting polygon, open ring, bad coordinates, each named by path', (t) => {
  const { registry } = open(t);
  const bowtie: Position[][] = [
    [
      [117.2, 31.8],
      [117.21, 31.81],
      [117.21, 31.8],
      [117.2, 31.81],
      [117.2, 31.8],
    ],
  ];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [bowtie] })),
    [['polygons[0]', 'self-intersecting polygon at [117.205, 31.805]']],
  );
  const open4 = squareFrom(117.2, 31.8)[0]!.slice(0, 4);
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [[open4]] })),
    [
      [
        'polygons[0][0][3]',
        'ring is not closed: the last position [117.2, 31.805] must repeat the first [117.2, 31.8]',
      ],
    ],
  );
  const triangle: Position[][] = [
    [
      [117.2, 31.8],
      [117.21, 31.8],
      [117.2, 31.8],
    ],
  ];
  t.regex(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [triangle] }))[0]![1],
    /at least 4 positions/,
  );
  const far = squareFrom(117.2, 31.8);
  far[0]![2] = [190, 31.8];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [far] })),
    [['polygons[0][0][2]', 'longitude 190 is outside -180..180']],
  );
  const nan = squareFrom(117.2, 31.8);
  nan[0]![1] = [Number.NaN, 31.8];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [nan] })),
    [['polygons[0][0][1]', 'coordinates must be finite numbers']],
  );
  const holeOutside = [...squareFrom(117.2, 31.8), squareFrom(117.3, 31.8, 0.001)[0]!];
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, polygons: [holeOutside] })),
    [['polygons[0][1]', 'hole lies outside the outer ring']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, kind: 'dump' as never, name: ' ' })),
    [
      ['kind', "must be one of 'origin', 'disposal'"],
      ['name', 'must be a non-empty string'],
    ],
  );
  t.is(registry.list('site').length, 0, 'nothing stored');
});

test('validation: routes need 2+ distinct consecutive points, a corridor in (0, 1000] m, limits within the line', (t) => {
  const { registry } = open(t);
  const route = { id: 'r', name: 'r', line: LINE };
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, line: [[117.2, 31.8]] })),
    [['line', 'a route needs at least 2 positions, got 1']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, line: [LINE[0]!, LINE[0]!, LINE[1]!] })),
    [['line[1]', 'position [117.2025, 31.8025] repeats the previous one (zero-length segment)']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, corridorM: 0 })),
    [['corridorM', 'corridor width must be greater than 0 m, got 0']],
  );
  t.deepEqual(
    issuesOf(() => registry.put('route', { ...route, corridorM: 1500 })),
    [['corridorM', 'corridor width must be at most 1000 m, got 1500']],
  );
  t.deepEqual(
    issuesOf(() =>
      registry.put('route', {
        ...route,
        limits: [
          { from: 0, to: 3, speedLimitKmh: 40 },
          { from: 1, to: 1, nightLimitKmh: 30 },
          { from: 0, to: 1 },
          { from: 0, to: 2, speedLimitKmh: -5 },
        ],
      }),
    ),
    [
      ['limits[0].to', 'must be a vertex index of the line, 0..2, got 3'],
      ['limits[1].to', 'must be greater than from (1)'],
      ['limits[2]', 'a limit needs speedLimitKmh or nightLimitKmh'],
      ['limits[3].speedLimitKmh', 'speed limit must be a number of km/h in (0, 250]'],
    ],
  );
  const ok = registry.put('route', {
    ...route,
    corridorM: 80,
    limits: [{ from: 1, to: 2, speedLimitKmh: 40 }],
  });
  t.is(ok.version, 1);
});

test('validation: zone windows, speed zones need a limit', (t) => {
  const { registry } = open(t);
  const zone = {
    id: 'z',
    kind: 'restricted' as const,
    name: '禁行区',
    polygons: [squareFrom(117.28, 31.86)],
  };
  t.deepEqual(
    issuesOf(() => registry.put('zone', { ...zone, windows: ['07:00-09:00', '7am-9am', '25:00-26:00'] })),
    [
      ['windows[1]', 'bad time window "7am-9am", expected HH:MM-HH:MM'],
      ['windows[2]', 'bad start in time window "25:00-26:00"'],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('zone', { ...zone, kind: 'speed' })),
    [['speedLimitKmh', 'required for a speed zone']],
  );
  t.deepEqual(registry.put('zone', zone).windows, [], 'no windows: closed all day');
});

test('validation: permit dates, windows and references to sites and routes', (t) => {
  const { registry } = open(t);
  seed(registry);
  t.deepEqual(
    issuesOf(() =>
      registry.put('permit', {
        ...PERMIT,
        origins: ['site-x'],
        disposals: ['site-o'],
        routes: ['route-1', 'nope'],
      }),
    ),
    [
      ['origins[0]', "unknown site 'site-x'"],
      ['disposals[0]', "site 'site-o' is a origin site, not disposal"],
      ['routes[1]', "unknown route 'nope'"],
    ],
  );
  t.deepEqual(
    issuesOf(() =>
      registry.put('permit', {
        ...PERMIT,
        validFrom: '2026-12-01',
        validTo: '2026-11-30',
        windows: [],
        vehicles: [],
      }),
    ),
    [
      ['vehicles', 'at least 1 required'],
      ['validTo', '2026-11-30 is before 2026-12-01 (validFrom)'],
      ['windows', 'at least 1 window(s) "HH:MM-HH:MM" required'],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('permit', { ...PERMIT, validTo: '2026-02-30', state: 'live' as never })),
    [
      ['validTo', 'no such date "2026-02-30"'],
      ['state', "must be one of 'submitted', 'approved', 'active', 'rejected', 'revoked', 'expired'"],
    ],
  );
  t.deepEqual(
    issuesOf(() => registry.put('permit', { ...PERMIT, thresholds: { offRouteMinFixes: 0 } })),
    [['thresholds.offRouteMinFixes', 'must be a positive integer']],
  );
  registry.put('permit', PERMIT);

  // Sites and routes named by a live permit cannot be deleted, nor swap roles.
  t.throws(() => registry.delete('site', 'site-o'), {
    instanceOf: ConflictError,
    message: /permit\(s\) 'permit-1'/,
  });
  t.throws(() => registry.delete('route', 'route-1'), { instanceOf: ConflictError });
  t.deepEqual(
    issuesOf(() => registry.put('site', { ...ORIGIN, kind: 'disposal' })),
    [['kind', "permit(s) 'permit-1' use this site as an origin"]],
  );
  registry.put('permit', { ...PERMIT, state: 'revoked' });
  t.is(registry.delete('site', 'site-o').version, 2, 'free once the permit is revoked');
});
