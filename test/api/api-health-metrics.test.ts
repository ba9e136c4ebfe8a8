/**
 * Health and metrics routes: component states, degraded and down, Prometheus text (their world: test/support/api/api.ts).
 */
import test from 'ava';
import { Registry as MetricsRegistry } from 'prom-client';
import { HTTP_DURATION_METRIC } from '../../api/metrics.ts';
import { type HealthReport, HealthReportSchema } from '../../api/schemas.ts';
import { seeded, setUp } from '../support/api/api.ts';
import { AUTH, OK_HEALTH, testApi } from '../support/api-fixtures.ts';

setUp();

// ---------------------------------------------------------------------------------------------------
// /healthz

test('healthz: 200 with component states when ok, without a token', async (t) => {
  const { app } = await testApi(seeded.store);
  const res = await app.inject({ url: '/healthz' });
  t.is(res.statusCode, 200);
  t.is(res.headers['cache-control'], 'no-store');
  t.deepEqual(HealthReportSchema.parse(res.json()), OK_HEALTH);
});

test('healthz: 200 when degraded, 503 when down', async (t) => {
  let report: HealthReport = {
    status: 'degraded',
    components: { store: { state: 'degraded', name: 'influxdb-v2', ok: false, detail: 'slow writes' } },
  };
  const { app } = await testApi(seeded.store, { health: async () => report });
  const degraded = await app.inject({ url: '/healthz' });
  t.is(degraded.statusCode, 200);
  t.is(degraded.json().status, 'degraded');
  t.is(degraded.json().components.store.detail, 'slow writes');

  report = {
    status: 'down',
    components: { broker: { state: 'down', connections: 0, detail: 'not listening' } },
  };
  const down = await app.inject({ url: '/healthz' });
  t.is(down.statusCode, 503);
  t.deepEqual(down.json(), report);
});

test('healthz: a failing or malformed health check is reported as down', async (t) => {
  const failing = await testApi(seeded.store, {
    health: async () => {
      throw new Error('spool unreadable');
    },
  });
  const res = await failing.app.inject({ url: '/healthz' });
  t.is(res.statusCode, 503);
  t.is(res.json().status, 'down');
  t.is(res.json().components.health.state, 'down');
  t.regex(res.json().components.health.detail, /spool unreadable/);

  const malformed = await testApi(seeded.store, {
    health: async () => ({ status: 'fine' }) as unknown as HealthReport,
  });
  const bad = await malformed.app.inject({ url: '/healthz' });
  t.is(bad.statusCode, 503);
  t.is(bad.json().status, 'down');
});

// ---------------------------------------------------------------------------------------------------
// /metrics

test('metrics: Prometheus text with the HTTP latency histogram labelled by route template', async (t) => {
  const { app, metrics } = await testApi(seeded.store);
  await app.inject({ url: '/api/v1/positions', headers: AUTH });
  await app.inject({ url: '/api/v1/vehicles/veh-1/position', headers: AUTH });
  await app.inject({ url: '/api/v1/vehicles/veh-2/position', headers: AUTH });
  await app.inject({ url: '/no/such/route/42' });
  const res = await app.inject({ url: '/metrics' });
  t.is(res.statusCode, 200);
  t.is(res.headers['content-type'], metrics.contentType);
  const text = res.body;
  t.true(text.includes(`# TYPE ${HTTP_DURATION_METRIC} histogram`));
  t.true(
    text.includes(`${HTTP_DURATION_METRIC}_count{route="/api/v1/positions",method="GET",status="200"} 1`),
    text,
  );
  // One series for the template, whatever the unit id.
  t.true(
    text.includes(
      `${HTTP_DURATION_METRIC}_count{route="/api/v1/vehicles/:id/position",method="GET",status="200"} 2`,
    ),
  );
  t.true(text.includes(`${HTTP_DURATION_METRIC}_count{route="unmatched",method="GET",status="404"} 1`));
  t.false(text.includes('/no/such/route'));
});

test('metrics: metrics registered by others on the same registry are served too', async (t) => {
  const metrics = new MetricsRegistry();
  const { Counter } = await import('prom-client');
  new Counter({ name: 'citywatch_test_total', help: 'a test counter', registers: [metrics] }).inc(3);
  const { app } = await testApi(seeded.store, { metrics });
  // Building a second API on the same registry reuses the histogram instead of failing.
  await t.notThrowsAsync(testApi(seeded.store, { metrics }));
  const text = (await app.inject({ url: '/metrics' })).body;
  t.true(text.includes('citywatch_test_total 3'));
});
