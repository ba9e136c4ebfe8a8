/**
 * The `withdrawn` transition everywhere a violation is seen (issue 17): a truck comes out of a blind area,
 * its live fix first (a 5.5-minute gap while moving: a TRACK_GAP, published), then the buffered fixes
 * (JT/T 808 0x0704 type 1), which fill the gap and show a detour. The platform (in-process, real MQTT,
 * HTTP and webhook sockets) withdraws the TRACK_GAP and opens the OFF_ROUTE with its true times; the
 * withdrawal must reach the API (list, detail, phase history), the live stream, a webhook subscriber,
 * the MQTT alert topic and the evidence package, and stay out of the default list.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import type { ViolationEvent } from '../../geofence/types.ts';
import { normalizeFix } from '../../ingest/normalize.ts';
import { muckTruckFixSchema } from '../../ingest/payload.ts';
import type { Device } from '../../registry/types.ts';
import { type HaulWorld, offRouteHaulFixes, publishFixes, seedHaulWorld } from '../support/haul-world.ts';
import {
  ADMIN_TOKEN,
  connectClient,
  endClient,
  eventually,
  LOOPBACK_WEBHOOKS,
  startTestPlatform,
} from '../support/platform.ts';
import { SseClient } from '../support/sse.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
type Json = any;

const SERVICE_PASSWORD = 'service-password-withdrawn-0123';
const WORLD: HaulWorld = {
  firm: 'firm-wd',
  firmName: '撤销测试运输公司',
  vehicle: 'veh-wd-1',
  plate: '皖A·W0001',
  device: 'dev-wd-1',
  secret: 'secret-withdrawn-1',
  origin: { id: 'site-w-origin', name: '撤销工地' },
  disposal: { id: 'site-w-disposal', name: '撤销消纳场' },
  route: { id: 'route-w', name: '撤销线路' },
  permit: 'permit-w',
  lat: 31.79,
  originLon: 117.1,
  disposalLon: 117.4,
};

test('a TRACK_GAP withdrawn by backfill: in the API, the live stream, webhooks, MQTT alerts and its evidence', async (t) => {
  const tp = await startTestPlatform({ SERVICE_PASSWORD, ...LOOPBACK_WEBHOOKS });
  t.teardown(() => tp.stop());
  await seedHaulWorld(tp.platform, WORLD);
  tp.platform.complianceService.recompile();
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const get = async (p: string): Promise<Json> => {
    const res = await fetch(`${tp.httpUrl}${p}`, { headers: auth });
    if (res.status !== 200) throw new Error(`${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  // a webhook receiver, subscribed to every violation event type
  const hooks: Json[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      hooks.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const sub = await fetch(`${tp.httpUrl}/api/v1/webhooks`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      events: ['violation.opened', 'violation.closed', 'violation.updated', 'violation.withdrawn'],
    }),
  });
  t.is(sub.status, 201, await sub.clone().text());

  const sse = await SseClient.connect(`${tp.httpUrl}/api/v1/live/violations?vehicle=${WORLD.vehicle}`, auth);
  t.teardown(() => sse.close());
  const reader = await connectClient(tp.mqttUrl, {
    username: 'platform',
    password: SERVICE_PASSWORD,
    clientId: 'withdrawn-alerts-reader',
  });
  t.teardown(() => endClient(reader));
  const alerts: Json[] = [];
  reader.on('message', (_topic, payload) => alerts.push(JSON.parse(payload.toString())));
  await reader.subscribeAsync(`alerts/${WORLD.firm}/${WORLD.vehicle}`, { qos: 1 });

  // 48 fixes 10 s apart, 20 minutes ago; 12..23 a detour; coverage lost from 8 to 40
  const t0 = Date.now() - 20 * 60_000;
  const fixes = offRouteHaulFixes(t0, { lat: WORLD.lat, lon0: 117.12, count: 48, offFrom: 12, offTo: 24 });
  await publishFixes(tp.mqttUrl, WORLD, [...fixes.slice(0, 8), fixes[41]!]);
  const gapId = `${WORLD.vehicle}:TRACK_GAP:${fixes[7]!.ts}`;
  await eventually(
    async () =>
      (await get('/api/v1/violations')).items.some((v: Json) => v.id === gapId) ? true : undefined,
    'the TRACK_GAP before the batch',
  );
  await publishFixes(tp.mqttUrl, WORLD, [fixes.slice(8, 41)]);

  // the API: out of the default list, listed as withdrawn, its detail and phase history say why
  const withdrawn = await eventually(async () => {
    const items = (await get('/api/v1/violations?phase=withdrawn')).items as Json[];
    return items.find((v) => v.id === gapId);
  }, 'the TRACK_GAP withdrawn');
  t.like(withdrawn, { phase: 'withdrawn', withdrawal: { reason: 'backfill', lateTs: fixes[8]!.ts } });
  const listed = (await get('/api/v1/violations')).items as Json[];
  t.false(
    listed.some((v) => v.id === gapId),
    'not in the default list',
  );
  const offRoute = listed.filter((v) => v.code === 'OFF_ROUTE');
  t.is(offRoute.length, 1);
  t.is(offRoute[0].startTs, fixes[12]!.ts, 'the detour with its true onset');
  const detail = await get(`/api/v1/violations/${encodeURIComponent(gapId)}`);
  t.deepEqual(
    detail.phases.map((p: Json) => [p.phase, p.rejudged?.reason]),
    [
      ['opened', undefined],
      ['closed', undefined],
      ['withdrawn', 'backfill'],
    ],
  );

  // the live stream, the MQTT alerts and the webhook: the same transition
  await sse.until(
    () =>
      sse.events.some(
        (e) => JSON.parse(e.data).violation.id === gapId && JSON.parse(e.data).phase === 'withdrawn',
      ),
    'the withdrawn event on the live stream',
  );
  const live = sse.events
    .map((e) => JSON.parse(e.data))
    .find((d) => d.phase === 'withdrawn' && d.violation.id === gapId);
  t.like(live, {
    violation: { id: gapId, withdrawal: { reason: 'backfill' } },
    rejudged: { reason: 'backfill' },
  });
  const alert = await eventually(
    () => alerts.find((a) => a.phase === 'withdrawn' && a.violation.id === gapId),
    'the withdrawn alert on MQTT',
  );
  t.is(alert.violation.withdrawal.reason, 'backfill');
  const hook = await eventually(
    () => hooks.find((h) => h.type === 'violation.withdrawn' && h.data.id === gapId),
    'the violation.withdrawn webhook',
    30_000,
  );
  t.like(hook.data, {
    id: gapId,
    code: 'TRACK_GAP',
    withdrawal: { reason: 'backfill' },
    rejudged: { reason: 'backfill' },
  });

  // the evidence package of the withdrawn violation says so
  const pkg = await eventually(
    async () => {
      const res = await fetch(`${tp.httpUrl}/api/v1/violations/${encodeURIComponent(gapId)}/evidence`, {
        headers: auth,
      });
      if (res.status !== 200) return undefined;
      const body = (await res.json()) as Json;
      return body.violation?.withdrawal ? body : undefined;
    },
    'the evidence package of the withdrawn TRACK_GAP',
    60_000,
  );
  t.like(pkg.violation, { id: gapId, withdrawal: { reason: 'backfill', lateTs: fixes[8]!.ts } });
});

test('a violation opened and withdrawn within one flush is never published (nor stored)', async (t) => {
  const tp = await startTestPlatform();
  t.teardown(() => tp.stop());
  const world = {
    ...WORLD,
    vehicle: 'veh-wd-2',
    device: 'dev-wd-2',
    plate: '皖A·W0002',
    permit: 'permit-w2',
  };
  await seedHaulWorld(tp.platform, world);
  const service = tp.platform.complianceService;
  service.recompile();
  const device: Device = {
    id: world.device,
    kind: 'muck_truck',
    unit: world.vehicle,
    firm: world.firm,
    reportIntervalS: 10,
    enabled: true,
  };
  const t0 = Date.now() - 20 * 60_000;
  const fixes = offRouteHaulFixes(t0, {
    lat: WORLD.lat,
    lon0: 117.12,
    count: 48,
    offFrom: 12,
    offTo: 24,
  }).map((p) => normalizeFix(muckTruckFixSchema.parse(p), device, Date.now()));
  const published: string[] = [];
  service.bus.on('violation', (e: ViolationEvent) => published.push(`${e.phase} ${e.violation.id}`));
  service.onFixes(fixes.slice(0, 8));
  await service.flush();
  // within one flush interval: the live fix after the blind area (a gap while moving), then the batch
  service.onFixes([fixes[41]!]);
  service.onFixes(fixes.slice(8, 41));
  await service.flush();
  const gapId = `${world.vehicle}:TRACK_GAP:${fixes[7]!.ts}`;
  t.false(
    published.some((p) => p.endsWith(gapId)),
    `published: ${published.join(', ')}`,
  );
  t.true(
    published.some((p) => p.startsWith('opened') && p.includes(':OFF_ROUTE:')),
    'the detour is',
  );
  t.is(await tp.platform.events.violation(gapId), undefined, 'the event store never heard of it');
});
