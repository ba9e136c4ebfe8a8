/**
 * The compliance engine in the running platform, end to end: a muck truck reports over MQTT, the engine
 * judges the durable fixes against the registry, the violation is published on `alerts/{firm}/{vehicle}`,
 * stored, served by the API, and its evidence package is built once the track is in the fix store.
 */
import test from 'ava';
import { type EvidencePackage, verifyEvidence } from '../../geofence/evidence.ts';
import { type HaulWorld, offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import { openApiProblems } from '../support/openapi.ts';
import { adminGet, connectClient, endClient, eventually, startTestPlatform } from '../support/platform.ts';

const SERVICE_PASSWORD = 'service-password-for-tests';
const FIRM = 'firm-e2e';
const VEHICLE = 'veh-e2e-1';
const DEVICE = 'dev-e2e-1';

const WORLD: HaulWorld = {
  firm: FIRM,
  firmName: '合肥渣土运输测试公司',
  vehicle: VEHICLE,
  plate: '皖A·E0001',
  device: DEVICE,
  secret: 'secret-e2e-1',
  origin: { id: 'site-e2e-origin', name: '测试工地' },
  disposal: { id: 'site-e2e-disposal', name: '测试消纳场' },
  route: { id: 'route-e2e', name: '测试线路' },
  permit: 'permit-e2e',
};

test.serial('an off-route muck truck raises OFF_ROUTE: alert, API and verifiable evidence', async (t) => {
  const tp = await startTestPlatform({ SERVICE_PASSWORD });
  t.teardown(() => tp.stop());
  await seedHaulWorld(tp.platform, WORLD);

  const service = await connectClient(tp.mqttUrl, {
    username: 'platform',
    password: SERVICE_PASSWORD,
    clientId: 'alerts-reader',
  });
  t.teardown(() => endClient(service));
  const alerts: Array<{ topic: string; event: { phase: string; violation: { code: string; id: string } } }> =
    [];
  service.on('message', (topic, payload) => alerts.push({ topic, event: JSON.parse(payload.toString()) }));
  await service.subscribeAsync('alerts/#', { qos: 1 });

  // 1 min on the route, 3 min 300 m north of it, 2 min back on it: a fix every 10 s, ending 1 min ago.
  const t0 = Date.now() - 7 * 60_000;
  await publishFixes(tp.mqttUrl, WORLD, offRouteHaulFixes(t0));

  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  const violation: any = await eventually(async () => {
    const res = await adminGet(tp, `/api/v1/violations?vehicle=${VEHICLE}&code=OFF_ROUTE&phase=closed`);
    return res.status === 200 && res.body.items.length > 0 ? res.body.items[0] : undefined;
  }, 'a closed OFF_ROUTE violation from the API');
  t.is(violation.vehicle, VEHICLE);
  t.is(violation.firm, FIRM);
  t.is(violation.startTs, t0 + 6 * 10_000);
  t.is(violation.endTs, t0 + 24 * 10_000);
  t.true((violation.details.maxDeviationM as number) > 250);

  const detail = await adminGet(tp, `/api/v1/violations/${encodeURIComponent(violation.id)}`);
  t.is(detail.status, 200);
  t.deepEqual(
    detail.body.phases.map((p: { phase: string }) => p.phase),
    ['opened', 'closed'],
  );

  await eventually(
    () =>
      alerts.some((a) => a.event.violation.code === 'OFF_ROUTE' && a.event.phase === 'closed')
        ? true
        : undefined,
    'the OFF_ROUTE alerts over MQTT',
  );
  const offRouteAlerts = alerts.filter((a) => a.event.violation.code === 'OFF_ROUTE');
  t.true(offRouteAlerts.every((a) => a.topic === `alerts/${FIRM}/${VEHICLE}`));
  t.deepEqual(
    offRouteAlerts.map((a) => a.event.phase),
    ['opened', 'closed'],
  );

  const pkg = await eventually(async () => {
    const res = await adminGet(tp, `/api/v1/violations/${encodeURIComponent(violation.id)}/evidence`);
    return res.status === 200 ? (res.body as EvidencePackage) : undefined;
  }, 'the evidence package');
  t.true(verifyEvidence(pkg));
  t.is(pkg.violation.id, violation.id);
  t.true(pkg.fixes.length >= 18, `track in the package: ${pkg.fixes.length} fixes`);
  t.true(pkg.entities.some((e) => e.ref.kind === 'route' && e.ref.id === 'route-e2e'));
  t.false(verifyEvidence({ ...pkg, fixes: pkg.fixes.slice(1) }), 'a tampered package does not verify');

  const trips = await adminGet(tp, `/api/v1/trips?vehicle=${VEHICLE}`);
  t.is(trips.status, 200);
  const missing = await adminGet(tp, '/api/v1/violations/nope:OFF_ROUTE:1/evidence');
  t.is(missing.status, 404);
  const bad = await adminGet(tp, '/api/v1/violations?code=NOT_A_CODE');
  t.is(bad.status, 400);
  t.is(bad.body.type, 'urn:citywatch:problem:validation');

  const doc = (await (await fetch(`${tp.httpUrl}/docs/json`)).json()) as { paths: Record<string, unknown> };
  t.deepEqual(openApiProblems(doc), []);
  for (const p of [
    '/api/v1/violations',
    '/api/v1/violations/{id}',
    '/api/v1/violations/{id}/evidence',
    '/api/v1/trips',
  ])
    t.truthy(doc.paths[p], p);
});
