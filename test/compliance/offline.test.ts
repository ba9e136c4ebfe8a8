/**
 * OFFLINE through the shell: no fix arrives, so only the compliance service's own silence tick (its
 * timer, not a call from the test) can raise it. The violation must reach the API and the
 * alerts/{firm}/{vehicle} MQTT topic like any other, and the next fix must close it.
 */
import test from 'ava';
import { seedHaulFleet } from '../support/haul-world.ts';
import {
  adminGet,
  connectClient,
  endClient,
  eventually,
  publishQos1,
  startTestPlatform,
} from '../support/platform.ts';

const SERVICE_PASSWORD = 'service-password-for-offline-test';
const FIRM = 'firm-offline';
const VEHICLE = 'veh-offline-1';
const DEVICE = 'dev-offline-1';
const SECRET = 'secret-offline-1';

interface Alert {
  topic: string;
  event: { phase: string; violation: { id: string; code: string; vehicle: string } };
}

test('a silent truck with the ignition on: the service tick raises OFFLINE on the API and the alert topic', async (t) => {
  const tp = await startTestPlatform({ SERVICE_PASSWORD });
  t.teardown(() => tp.stop());
  await seedHaulFleet(tp.platform.registry, {
    firm: FIRM,
    firmName: '离线测试运输公司',
    vehicle: VEHICLE,
    plate: '皖A·F0001',
    device: DEVICE,
    secret: SECRET,
  });

  const reader = await connectClient(tp.mqttUrl, {
    username: 'platform',
    password: SERVICE_PASSWORD,
    clientId: 'offline-alerts-reader',
  });
  t.teardown(() => endClient(reader));
  const alerts: Alert[] = [];
  reader.on('message', (topic, payload) => alerts.push({ topic, event: JSON.parse(payload.toString()) }));
  await reader.subscribeAsync('alerts/#', { qos: 1 });

  // One fix 12 minutes old, ignition on: the allowed silence (max(3 x 10 s, 10 min)) is over even by a
  // wall clock held back by the intake lag (at most 60 s), and no fix will come until the test sends
  // one, so only the tick can notice.
  const lastTs = Date.now() - 12 * 60_000;
  const device = await connectClient(tp.mqttUrl, { username: DEVICE, password: SECRET, clientId: DEVICE });
  t.teardown(() => endClient(device));
  const fix = (ts: number) =>
    JSON.stringify({ ts, lat: 31.84, lon: 117.25, speed: 0, ign: true, load: 'empty' });
  await publishQos1(device, `devices/${DEVICE}/telemetry`, fix(lastTs));

  const open = await eventually(
    async () => {
      const res = await adminGet(tp, `/api/v1/violations?vehicle=${VEHICLE}&code=OFFLINE&phase=ongoing`);
      return res.body.items?.length === 1 ? res.body.items[0] : undefined;
    },
    'an open OFFLINE violation on the API',
    20_000,
  );
  t.is(open.startTs, lastTs + 10 * 60_000, 'silence allowed: max(3 x report interval 10 s, 10 min)');
  t.is(open.details.reason, 'ignition_on');
  t.is(open.details.lastFixTs, lastTs);
  const opened = await eventually(
    () => alerts.find((a) => a.event.violation.code === 'OFFLINE' && a.event.phase === 'opened'),
    'the OFFLINE alert over MQTT',
  );
  t.is(opened.topic, `alerts/${FIRM}/${VEHICLE}`);
  t.is(opened.event.violation.id, open.id);

  // the device speaks again: the same violation closes, on the API and on the topic
  const backTs = Date.now();
  await publishQos1(device, `devices/${DEVICE}/telemetry`, fix(backTs));
  const closed = await eventually(async () => {
    const res = await adminGet(tp, `/api/v1/violations/${encodeURIComponent(open.id)}`);
    return res.body.violation?.endTs !== undefined ? res.body.violation : undefined;
  }, 'the OFFLINE violation closed by the next fix');
  t.is(closed.endTs, backTs);
  await eventually(
    () => alerts.find((a) => a.event.violation.id === open.id && a.event.phase === 'closed'),
    'the closing alert over MQTT',
  );
  const offline = await adminGet(tp, `/api/v1/violations?vehicle=${VEHICLE}&code=OFFLINE`);
  t.is(offline.body.items.length, 1, 'repeated ticks while silent opened nothing more');
});
