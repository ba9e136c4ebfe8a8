/**
 * The hot position routes write their 2xx JSON with JSON.stringify instead of the zod serializer
 * (api/fast-serializer.ts), which is only right because their bodies are built in the schema's shape
 * (toPositionDto). These tests hold that: every answer parses to exactly its schema (nothing more, nothing
 * invalid) and is byte for byte what the zod serializer would have written, for every unit kind, even
 * when the fix carries a property the schema does not know. Also the InfluxDB row reader (rowToFix) the
 * track and the latest-position cache are built from.
 */
import test from 'ava';
import { serializerCompiler } from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';
import { PositionDtoSchema, PositionListSchema, ProblemSchema, toPositionDto } from '../../api/schemas.ts';
import { TrackSchema } from '../../api/track-format-schemas.ts';
import type { Fix } from '../../core/fix.ts';
import { rowToFix } from '../../store/influx/schema.ts';
import type { LatestFilter } from '../../store/port.ts';
import { AUTH, fleetFixes, T0, testApi } from '../support/api-fixtures.ts';

const zodJson = (schema: ZodType) =>
  serializerCompiler({ schema, method: 'GET', url: '/', httpStatus: '200', contentType: 'application/json' });

/** fleetFixes() (all three kinds), veh-1's latest with a property no schema knows */
function fixes(): Fix[] {
  return fleetFixes().map((f) =>
    f.vehicle === 'veh-1' && f.ts === T0 + 10_000 ? ({ ...f, secret: 'not for clients' } as Fix) : f,
  );
}

function latestOf(all: readonly Fix[]): Fix[] {
  const by = new Map<string, Fix>();
  for (const f of all) if ((by.get(f.vehicle)?.ts ?? -1) < f.ts) by.set(f.vehicle, f);
  return [...by.values()];
}

async function api() {
  const all = fixes();
  const positions = {
    latest: async (filter: LatestFilter = {}) =>
      latestOf(all).filter((f) => filter.firm === undefined || f.firm === filter.firm),
    latestOf: async (id: string) => latestOf(all).find((f) => f.vehicle === id),
  };
  const tracks = {
    track: async (q: { vehicle: string; from: number; to: number }) =>
      all
        .filter((f) => f.vehicle === q.vehicle && f.ts >= q.from && f.ts <= q.to)
        .sort((a, b) => a.ts - b.ts),
  };
  return (await testApi(positions, { tracks })).app;
}

/** the body is valid, has nothing its schema lacks, and is what the zod serializer writes */
function exactly(t: import('ava').ExecutionContext, schema: ZodType, body: string): unknown {
  const parsed: unknown = JSON.parse(body);
  t.deepEqual(schema.parse(parsed), parsed);
  t.is(body, zodJson(schema)(parsed));
  t.false(body.includes('null'));
  t.false(body.includes('not for clients'));
  return parsed;
}

test('GET /positions: exactly the PositionList schema, as the zod serializer writes it', async (t) => {
  const app = await api();
  const res = await app.inject({ url: '/api/v1/positions', headers: AUTH });
  t.is(res.statusCode, 200);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  const body = exactly(t, PositionListSchema, res.body) as { items: { vehicle: string; plate?: string }[] };
  t.deepEqual(
    body.items.map((p) => p.vehicle),
    ['cam-1', 'veh-1', 'veh-2', 'veh-s1'],
  );
  t.is(body.items.find((p) => p.vehicle === 'veh-1')?.plate, '皖A·10001');
  t.false('plate' in (body.items.find((p) => p.vehicle === 'cam-1') ?? {}));
  const page = await app.inject({ url: '/api/v1/positions?limit=2', headers: AUTH });
  exactly(t, PositionListSchema, page.body);
  await app.close();
});

test('GET /vehicles/{id}/position and the JSON track: exactly their schemas', async (t) => {
  const app = await api();
  for (const id of ['veh-1', 'veh-s1', 'cam-1']) {
    const res = await app.inject({ url: `/api/v1/vehicles/${id}/position`, headers: AUTH });
    t.is(res.statusCode, 200, id);
    exactly(t, PositionDtoSchema, res.body);
  }
  const from = T0 - 60_000;
  const res = await app.inject({
    url: `/api/v1/vehicles/veh-1/track?from=${from}&to=${T0 + 60_000}`,
    headers: AUTH,
  });
  t.is(res.statusCode, 200);
  const track = exactly(t, TrackSchema, res.body) as { count: number };
  t.is(track.count, 2);
  await app.close();
});

test('problems of the same routes still go through the zod serializer', async (t) => {
  const app = await api();
  const res = await app.inject({ url: '/api/v1/vehicles/veh-nope/position', headers: AUTH });
  t.is(res.statusCode, 404);
  t.regex(String(res.headers['content-type']), /^application\/problem\+json/);
  t.is(ProblemSchema.parse(JSON.parse(res.body)).status, 404);
  await app.close();
});

test('toPositionDto: every schema property, absent ones undefined, ISO instants', (t) => {
  const [f] = fleetFixes();
  const dto = toPositionDto({ ...f!, extra: 1 } as Fix, 'P');
  t.deepEqual(Object.keys(dto), Object.keys(PositionDtoSchema.shape));
  t.is(dto.ts, new Date(f!.ts).toISOString());
  t.is(dto.plate, 'P');
  t.is(dto.cover, undefined);
});

test('rowToFix: tags win over columns, absent is omitted (never undefined), presence mask honoured', (t) => {
  const columns = ['time', 'device', 'firm', 'kind', 'lat', 'lon', 'present', 'speed', 'heading', 'vehicle'];
  // present = bit 0 (speed) only: the stale heading of an earlier write is not read back
  const row = [T0, 'dev-1', 'firm-a', 'muck_truck', 31.8, 117.2, 1, 12.5, 90, 'veh-1'];
  const fix = rowToFix(columns, row, { vehicle: 'veh-tag' });
  t.deepEqual(fix as unknown, {
    kind: 'muck_truck',
    firm: 'firm-a',
    vehicle: 'veh-tag',
    ts: T0,
    device: 'dev-1',
    lat: 31.8,
    lon: 117.2,
    speed: 12.5,
  });
  // received, valid, crsIn and late have no column: not there at all
  for (const key of ['received', 'valid', 'crsIn', 'late', 'heading']) t.false(key in fix, key);
  // null cells are absent too; one columns array serves many rows (its index is cached)
  const again = rowToFix(columns, [T0 + 1, null, 'firm-a', 'muck_truck', 1, 2, 3, null, 7, 'veh-1']);
  t.false('device' in again);
  t.false('speed' in again);
  t.is(again.heading, 7);
  t.is(again.vehicle, 'veh-1');
});
