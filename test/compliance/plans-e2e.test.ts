/**
 * The plans' rules in the running platform (issue 15), end to end: a duty plan written through the API,
 * a body camera reporting over MQTT, SOS and NOT_RECORDING judged by the engine, published as MQTT
 * alerts, stored and served by the API with their evidence entities (the duty plan and its version).
 */
import test from 'ava';
import { squareFrom } from '../support/geometry.ts';
import { publishFixes } from '../support/haul-world.ts';
import {
  ADMIN_TOKEN,
  adminGet,
  connectClient,
  endClient,
  eventually,
  startTestPlatform,
} from '../support/platform.ts';

const SERVICE_PASSWORD = 'service-password-for-tests';
const FIRM = 'dept-e2e';
const CAMERA = 'cam-e2e-1';
const SECRET = 'secret-cam-e2e-1';

test.serial(
  'a body camera on duty: SOS and NOT_RECORDING raised, alerted, served with the duty plan',
  async (t) => {
    const tp = await startTestPlatform({ SERVICE_PASSWORD });
    t.teardown(() => tp.stop());
    const { registry } = tp.platform;
    registry.upsertFirm({ id: FIRM, name: '城管执法测试中队' });
    registry.upsertOfficer({ id: 'off-e2e-1', name: '警员一', firm: FIRM });
    await registry.putDevice({
      id: CAMERA,
      secret: SECRET,
      kind: 'body_camera',
      firm: FIRM,
      officer: 'off-e2e-1',
      reportIntervalS: 15,
    });
    const plan = await fetch(`${tp.httpUrl}/api/v1/duty-plans`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'Feature',
        id: 'duty-e2e',
        geometry: { type: 'Polygon', coordinates: squareFrom(117.25, 31.85) },
        properties: { firm: FIRM, name: '网格一', windows: ['00:00-24:00'], officers: ['off-e2e-1'] },
      }),
    });
    t.is(plan.status, 201, await plan.text());

    const service = await connectClient(tp.mqttUrl, {
      username: 'platform',
      password: SERVICE_PASSWORD,
      clientId: 'alerts-reader',
    });
    t.teardown(() => endClient(service));
    const alerts: Array<{ topic: string; code: string; phase: string; level: number }> = [];
    service.on('message', (topic, payload) => {
      const e = JSON.parse(payload.toString());
      alerts.push({ topic, code: e.violation.code, phase: e.phase, level: e.violation.level });
    });
    await service.subscribeAsync('alerts/#', { qos: 1 });

    // 10 min of patrol inside the grid, one fix per 15 s: not recording from 1 min to 8 min, SOS at 9 min
    const t0 = Date.now() - 11 * 60_000;
    const fixes = Array.from({ length: 40 }, (_, i) => ({
      ts: t0 + i * 15_000,
      lat: 31.85,
      lon: 117.25 + (i % 10) * 0.0001,
      speed: 4,
      recording: !(i >= 4 && i < 32),
      battery: 80,
      storageFree: 20_000,
      officer: 'off-e2e-1',
      sos: i >= 36 && i < 38,
    }));
    await publishFixes(tp.mqttUrl, { device: CAMERA, secret: SECRET }, fixes);

    // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
    const closed = async (code: string): Promise<any> =>
      eventually(async () => {
        const res = await adminGet(tp, `/api/v1/violations?vehicle=${CAMERA}&code=${code}&phase=closed`);
        return res.status === 200 && res.body.items.length > 0 ? res.body.items[0] : undefined;
      }, `a closed ${code}`);
    const notRecording = await closed('NOT_RECORDING');
    t.is(notRecording.startTs, t0 + 4 * 15_000);
    t.is(notRecording.endTs, t0 + 32 * 15_000);
    t.true(
      notRecording.refs.some(
        (r: { kind: string; id: string }) => r.kind === 'duty_plan' && r.id === 'duty-e2e',
      ),
    );
    const sos = await closed('SOS');
    t.is(sos.startTs, t0 + 36 * 15_000);
    t.is(sos.level, 2);
    t.is(sos.details.priority, 'critical');
    await eventually(
      () => (alerts.some((a) => a.code === 'SOS' && a.phase === 'opened') ? true : undefined),
      'the SOS alert over MQTT',
    );
    t.true(
      alerts
        .filter((a) => a.code === 'SOS')
        .every((a) => a.topic === `alerts/${FIRM}/${CAMERA}` && a.level === 2),
    );
  },
);
