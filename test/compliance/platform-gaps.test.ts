/**
 * The platform never charges a firm for its own downtime (issue 10 item 6): after the platform itself
 * was stopped for 11 minutes every unit got a TRACK_GAP charged to its firm, counted in the scorecard.
 *
 * The platform runs as its own process and judges silence by the fleet's clock (COMPLIANCE_CLOCK=fleet),
 * so the verdicts follow the fixes' timestamps, not how fast this machine runs. Four trucks report every
 * 10 s (ignition on, moving: after 10 minutes of silence a device is OFFLINE, after 5 minutes a TRACK_GAP):
 *  - control: truck X (another firm) falls silent for 11 minutes while the platform runs: its firm IS
 *    charged (OFFLINE and TRACK_GAP), which shows the silence would have been judged;
 *  - then the platform is stopped (SIGTERM) while the fleet's time moves 11 minutes on (their fixes in
 *    that time go nowhere), and started again on the same DATA_DIR; all four report again.
 * Expected: no OFFLINE and no TRACK_GAP for the silence over the outage, for any firm; the outage listed
 * (GET /api/v1/platform/outages, cause stopped) with the four trucks' gaps; the firm's scorecard clean.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { type ChildPlatform, spawnPlatform } from '../../testkit/child-platform.ts';
import { connectClient, endClient, eventually, publishQos1, startTestPlatform } from '../support/platform.ts';

const ADMIN = 'platform-gaps-admin-0123456789';
const MAIN = 'firm-gap-main';
const CONTROL = 'firm-gap-ctl';
const TRUCKS = [
  { vehicle: 'veh-gap-a', firm: MAIN, lat: 31.81 },
  { vehicle: 'veh-gap-b', firm: MAIN, lat: 31.82 },
  { vehicle: 'veh-gap-c', firm: MAIN, lat: 31.83 },
  { vehicle: 'veh-gap-x', firm: CONTROL, lat: 31.84 },
];
const secretOf = (vehicle: string) => `secret-${vehicle}-0123`;
const deviceOf = (vehicle: string) => vehicle.replace('veh-', 'dev-');
const MIN = 60_000;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
type Json = any;

async function api(child: ChildPlatform, p: string): Promise<Json> {
  const res = await fetch(`http://127.0.0.1:${child.ports.http}${p}`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  if (res.status !== 200) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Every truck reports every 10 s of fleet time over [from, to), in time order; `silent` ones do not. */
async function drive(
  clients: Map<string, MqttClient>,
  t0: number,
  from: number,
  to: number,
  silent: (vehicle: string, at: number) => boolean = () => false,
): Promise<void> {
  for (let at = from; at < to; at += 10_000) {
    for (const { vehicle, lat } of TRUCKS) {
      if (silent(vehicle, at)) continue;
      const fix = { ts: t0 + at, lat, lon: 117.2 + (at / 10_000) * 0.0008, speed: 32, ign: true };
      await publishQos1(clients.get(vehicle)!, `devices/${deviceOf(vehicle)}/telemetry`, JSON.stringify(fix));
    }
  }
}

async function connectAll(child: ChildPlatform): Promise<Map<string, MqttClient>> {
  const out = new Map<string, MqttClient>();
  for (const { vehicle } of TRUCKS) {
    const device = deviceOf(vehicle);
    out.set(
      vehicle,
      await connectClient(`mqtt://127.0.0.1:${child.ports.mqtt}`, {
        username: device,
        password: secretOf(vehicle),
        clientId: device,
      }),
    );
  }
  return out;
}

test.serial(
  'stopped for 11 minutes of the fleet’s time: no firm is charged, the outage and its gaps are recorded',
  async (t) => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-platform-gaps-'));
    t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
    const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
    registry.upsertFirm({ id: MAIN, name: '停机测试运输公司' });
    registry.upsertFirm({ id: CONTROL, name: '对照运输公司' });
    for (const { vehicle, firm } of TRUCKS) {
      registry.upsertVehicle({
        id: vehicle,
        plate: `皖A·${vehicle.slice(-1).toUpperCase()}0001`,
        kind: 'muck_truck',
        firm,
      });
      await registry.putDevice({
        id: deviceOf(vehicle),
        secret: secretOf(vehicle),
        kind: 'muck_truck',
        vehicle,
        firm,
        reportIntervalS: 10,
      });
    }
    registry.close();
    const env = { DATA_DIR: dataDir, SIMULATE: '0', ADMIN_TOKEN: ADMIN, COMPLIANCE_CLOCK: 'fleet' };
    const t0 = Date.now() - 3 * 3_600_000; // a fleet replaying three hours ago, its own clock

    const first = await spawnPlatform(env);
    t.teardown(() => {
      first.child.kill('SIGKILL');
    });
    let clients = await connectAll(first);
    // 15 minutes; truck X silent from 2 to 13 minutes while the platform runs (the control)
    await drive(clients, t0, 0, 15 * MIN, (v, at) => v === 'veh-gap-x' && at > 2 * MIN && at < 13 * MIN);
    await eventually(async () => {
      const items = (await api(first, `/api/v1/violations?firm=${CONTROL}`)).items as Json[];
      return items.some((v) => v.code === 'TRACK_GAP') ? true : undefined;
    }, 'the control truck charged for its own silence');
    for (const c of clients.values()) await endClient(c);
    first.child.kill('SIGTERM');
    t.is(await first.exited, 0);

    // the platform is down for 11 minutes of the fleet's time: what the trucks sent meanwhile was lost
    const second = await spawnPlatform(env);
    t.teardown(() => {
      second.child.kill('SIGKILL');
    });
    clients = await connectAll(second);
    await drive(clients, t0, 26 * MIN, 28 * MIN);
    for (const c of clients.values()) await endClient(c);

    // a positive sign that the fixes after the restart were judged: the gaps of all four trucks
    const outage = await eventually(async () => {
      const items = (await api(second, '/api/v1/platform/outages')).items as Json[];
      const o = items.find((x) => x.cause === 'stopped');
      const gapped = new Set(
        (o?.gapList ?? []).filter((g: Json) => g.code === 'TRACK_GAP').map((g: Json) => g.vehicle),
      );
      return gapped.size === TRUCKS.length ? o : undefined;
    }, 'the stopped outage with a TRACK_GAP gap for each truck');
    t.true(
      outage.start >= t0 + 15 * MIN - 10_000 && outage.start <= t0 + 26 * MIN,
      `outage from ${outage.startAt}`,
    );
    for (const g of outage.gapList.filter((x: Json) => x.code === 'TRACK_GAP')) {
      t.true(
        g.fromTs < t0 + 15 * MIN && g.toTs >= t0 + 26 * MIN,
        `${g.vehicle}: the silence over the outage`,
      );
    }

    const charged = (await api(second, '/api/v1/violations?phase=any&limit=1000')).items as Json[];
    const overOutage = charged.filter(
      (v) =>
        ['OFFLINE', 'TRACK_GAP'].includes(v.code) && v.startTs >= t0 + 14 * MIN && v.startTs < t0 + 26 * MIN,
    );
    t.deepEqual(overOutage, [], 'no silence over the outage charged to any firm');
    t.deepEqual(
      charged.filter((v) => v.firm === MAIN).map((v) => `${v.vehicle} ${v.code}`),
      [],
      'the main firm has no violation at all',
    );
    const control = charged
      .filter((v) => v.firm === CONTROL)
      .map((v) => `${v.code} ${(v.startTs - t0) / 1000}`);
    t.deepEqual(
      control.sort(),
      ['OFFLINE 720', 'TRACK_GAP 120'],
      'the control truck’s own silence is charged',
    );

    const month = new Date(t0 + 8 * 3_600_000).toISOString().slice(0, 7); // China Standard Time
    const card = await api(second, `/api/v1/scorecards/${MAIN}?month=${month}`);
    t.is(card.violations, 0, 'the scorecard is clean');
    t.is(card.violationsByCode.TRACK_GAP, 0);

    second.child.kill('SIGTERM');
    t.is(await second.exited, 0);
  },
);

test.serial(
  'an intake over a minute behind its devices: the silence it sees is a platform gap, OFFLINE only once it caught up',
  async (t) => {
    const tp = await startTestPlatform();
    t.teardown(() => tp.stop());
    const reg = tp.platform.registry;
    reg.upsertFirm({ id: 'firm-lag', name: '滞后测试运输公司' });
    const secret = 'lag-secret-0123456789';
    // S and twelve others: a platform behind is behind for every device (BEHIND_MIN_DEVICES)
    const devices = ['s', ...Array.from({ length: 12 }, (_, i) => `o${i + 1}`)];
    for (const x of devices) {
      reg.upsertVehicle({
        id: `veh-lag-${x}`,
        plate: `皖A·L${x.toUpperCase()}`,
        kind: 'muck_truck',
        firm: 'firm-lag',
      });
      // one report a second, silence allowed 3 s: the test waits seconds, not minutes
      await reg.putDevice({
        id: `dev-lag-${x}`,
        secret,
        kind: 'muck_truck',
        vehicle: `veh-lag-${x}`,
        firm: 'firm-lag',
        reportIntervalS: 1,
      });
    }
    tp.platform.compliance.put('thresholds', {
      id: 'city',
      values: { ...DEFAULT_THRESHOLDS, offlineFactor: 3, offlineMinMs: 1_000 },
    });
    tp.platform.complianceService.recompile();
    const clients = new Map<string, MqttClient>();
    for (const x of devices) {
      clients.set(
        x,
        await connectClient(tp.mqttUrl, {
          username: `dev-lag-${x}`,
          password: secret,
          clientId: `dev-lag-${x}`,
        }),
      );
    }
    t.teardown(async () => {
      for (const c of clients.values()) await endClient(c);
    });
    const send = (x: string, ts: number, ign: boolean) =>
      publishQos1(
        clients.get(x)!,
        `devices/dev-lag-${x}/telemetry`,
        JSON.stringify({ ts, lat: 31.8, lon: 117.25, speed: 0, ign }),
      );
    const offline = () =>
      tp.platform.events
        .violations({ vehicle: 'veh-lag-s', code: 'OFFLINE', phase: 'any' })
        .then((p) => p.items);

    // the platform's intake 90 s behind (fixes arrive 90 s after their instant), truck S's last one among them
    const lagged = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        for (const x of devices.slice(1)) await send(x, Date.now() - 90_000, false);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await lagged(1_000);
    const sLast = Date.now() - 80_000;
    await send('s', sLast, true);
    await lagged(6_000); // ticks meanwhile: S would be OFFLINE by the held-back clock (60 s back at most)
    const behind = await eventually(() => {
      const o = tp.platform.complianceService.outageRecords(10).find((x) => x.cause === 'behind');
      return o?.gapList.some((g) => g.vehicle === 'veh-lag-s' && g.code === 'OFFLINE') ? o : undefined;
    }, 'a behind outage with truck S’s silence as a platform gap');
    t.true(behind.start <= sLast + 3_000, 'the outage covers the fixes the platform had not seen yet');
    t.deepEqual(await offline(), [], 'no OFFLINE while the platform was behind');

    // nothing more arrives: the intake has caught up (no fresh lag); S is silent on, now for real
    const found = await eventually(
      async () => {
        const items = await offline();
        return items.length > 0 ? items : undefined;
      },
      'OFFLINE of truck S once the platform caught up',
      30_000,
    );
    const ended = tp.platform.complianceService.outageRecords(10).find((x) => x.cause === 'behind');
    t.true(Number.isFinite(ended?.end), 'the behind outage ended');
    t.is(found.length, 1);
    t.true(found[0]!.startTs >= ended!.end + 3_000, 'its silence counted from the end of the outage');
  },
);
