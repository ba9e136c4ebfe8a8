/**
 * Data quality through the real platform (issue 17): a load sensor that flickers and a multipath fix
 * are not violations; they are counted, and an operator sees the counts in GET /healthz (compliance:
 * sensorGlitches, outlierFixes). Real MQTT, real ingest, the real engine.
 */
import test from 'ava';
import { M_PER_DEG_LAT, seedHaulWorld } from '../support/haul-world.ts';
import {
  adminGet,
  connectClient,
  endClient,
  eventually,
  publishQos1,
  startTestPlatform,
} from '../support/platform.ts';

const DEVICE = 'dev-dq-1';
const SECRET = 'secret-data-quality-1';

test('a 20 s load flicker and a stray fix 600 m off: no violation, one sensor glitch and one outlier in /healthz', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  await seedHaulWorld(tp.platform, {
    firm: 'firm-dq',
    firmName: '数据质量测试运输公司',
    vehicle: 'veh-dq-1',
    plate: '皖A·Q0001',
    device: DEVICE,
    secret: SECRET,
    origin: { id: 'site-dq-o', name: '工地' },
    disposal: { id: 'site-dq-d', name: '消纳场' },
    route: { id: 'route-dq', name: '线路' },
    permit: 'permit-dq',
  });
  tp.platform.complianceService.recompile();
  const device = await connectClient(tp.mqttUrl, { username: DEVICE, password: SECRET, clientId: DEVICE });
  t.teardown(() => endClient(device));

  // loaded on the route at 29 km/h (80 m per 10 s), fixes 10 s apart ending a minute ago
  const t0 = Date.now() - 30 * 10_000 - 60_000;
  const fixes: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 30; i++) {
    fixes.push({
      ts: t0 + i * 10_000,
      lat: 31.82,
      lon: 117.21 + i * 0.00085,
      speed: 29,
      ign: true,
      load: i === 10 || i === 11 ? 'empty' : 'full',
      weight: 16,
      cover: 'closed',
      lift: 'down',
    });
  }
  // one stray fix 600 m north, between fixes 20 and 21
  const stray = { ...fixes[20]!, ts: t0 + 205_000, lat: 31.82 + 600 / M_PER_DEG_LAT };
  fixes.splice(21, 0, stray);
  for (const f of fixes) await publishQos1(device, `devices/${DEVICE}/telemetry`, JSON.stringify(f));

  const health = await eventually(async () => {
    const res = await fetch(`${tp.httpUrl}/healthz`);
    const body = (await res.json()) as { components: { compliance: Record<string, unknown> } };
    const c = body.components.compliance;
    return c.sensorGlitches === 1 && c.outlierFixes === 1 ? c : undefined;
  }, 'the glitch and the outlier counted in /healthz');
  t.like(health, { sensorGlitches: 1, outlierFixes: 1 });
  // the stray fix is stored (in the track), but judged as nothing
  const violations = await adminGet(tp, '/api/v1/violations?vehicle=veh-dq-1');
  t.is(violations.status, 200);
  t.deepEqual(violations.body.items, []);
  const track = await adminGet(tp, `/api/v1/vehicles/veh-dq-1/track?from=${t0 - 1000}&to=${t0 + 400_000}`);
  t.is(track.status, 200, JSON.stringify(track.body));
  t.true(
    JSON.stringify(track.body).includes(String(stray.ts)) ||
      JSON.stringify(track.body).includes(new Date(stray.ts).toISOString()),
  );
});
