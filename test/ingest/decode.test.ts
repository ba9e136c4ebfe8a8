import test from 'ava';
import { DEFAULT_LIMITS, decodeTelemetry, deviceIdFromTelemetryTopic } from '../../ingest/decode.ts';
import type { Device } from '../../registry/types.ts';
import { cameraDevice, NOW, sweeperDevice, truckDevice, truckPayload } from '../support/fixtures.ts';

/** `device: null` means "not in the registry" (undefined would pick the default). */
const decode = (payload: unknown, device: Device | null = truckDevice, raw = false) =>
  decodeTelemetry({
    deviceId: device?.id ?? 'ghost',
    device: device ?? undefined,
    receivedMs: NOW,
    payload: raw ? (payload as Buffer) : Buffer.from(JSON.stringify(payload)),
  });

test('a valid muck-truck fix is normalized to the vehicle and firm, all fields kept', (t) => {
  const { fixes, rejections } = decode(truckPayload());
  t.deepEqual(rejections, []);
  t.deepEqual(fixes, [
    {
      vehicle: 'veh-1',
      device: 'dev-truck-1',
      kind: 'muck_truck',
      firm: 'firm-a',
      ts: NOW - 1000,
      received: NOW,
      lat: 31.82,
      lon: 117.23,
      valid: true,
      crsIn: 'WGS84',
      late: false,
      speed: 32.5,
      heading: 90,
      alt: 30,
      sats: 12,
      accuracy: 5,
      load: 'full',
      weight: 17.5,
      cover: 'closed',
      lift: 'down',
    },
  ]);
});

test('ISO-8601 with offset is converted to UTC epoch ms; without offset it is refused', (t) => {
  const ok = decode(truckPayload({ ts: '2026-11-22T15:59:00+08:00' }));
  t.is(ok.fixes[0]?.ts, Date.parse('2026-11-22T07:59:00Z'));
  const local = decode(truckPayload({ ts: '2026-11-22T15:59:00' }));
  t.is(local.rejections[0]?.reason, 'schema');
  t.regex(local.rejections[0]?.detail ?? '', /^ts/);
});

test('GCJ-02 fixes are converted to WGS-84 (hundreds of metres in Hefei)', (t) => {
  const { fixes } = decode(truckPayload({ crs: 'GCJ02', lat: 31.82, lon: 117.23 }));
  const fix = fixes[0]!;
  t.is(fix.crsIn, 'GCJ02');
  const dLat = (31.82 - fix.lat) * 111_000;
  const dLon = (117.23 - fix.lon) * 111_000 * Math.cos((31.82 * Math.PI) / 180);
  const shift = Math.hypot(dLat, dLon);
  t.true(shift > 300 && shift < 800, `shift ${shift} m`);
});

test('an array is a batch: valid elements kept, invalid ones rejected with their index', (t) => {
  const { fixes, rejections } = decode([
    truckPayload({ ts: NOW - 3000 }),
    truckPayload({ ts: NOW - 2000, speed: 'fast' }),
    truckPayload({ ts: NOW - 1000, lat: 95 }),
  ]);
  t.is(fixes.length, 1);
  t.deepEqual(
    rejections.map((r) => [r.reason, r.index]),
    [
      ['schema', 1],
      ['coordinates_out_of_range', 2],
    ],
  );
  t.regex(rejections[0]!.detail, /^speed:/);
});

test('per-kind fields: sanitation and body camera; camera officer defaults from the registry', (t) => {
  const s = decode(
    { ts: NOW, lat: 31.8, lon: 117.2, task: 'sweeping', brush: true, binLifts: 3 },
    sweeperDevice,
  );
  t.like(s.fixes[0], { kind: 'sanitation', task: 'sweeping', brush: true, binLifts: 3 });
  const c = decode({ ts: NOW, lat: 31.8, lon: 117.2, recording: true, battery: 80 }, cameraDevice);
  t.like(c.fixes[0], {
    kind: 'body_camera',
    vehicle: 'cam-1',
    officer: 'off-1',
    recording: true,
    battery: 80,
  });
  const badTask = decode({ ts: NOW, lat: 31.8, lon: 117.2, task: 'dancing' }, sweeperDevice);
  t.is(badTask.rejections[0]?.reason, 'schema');
});

test('each rejection reason is reported with a detail naming the field or limit', (t) => {
  const cases: Array<[unknown, string, RegExp, Device | null, boolean?]> = [
    [truckPayload(), 'unknown_device', /ghost/, null],
    [truckPayload(), 'device_disabled', /disabled/, { ...truckDevice, enabled: false }],
    [Buffer.from('{"ts":'), 'malformed_json', /not JSON/, truckDevice, true],
    [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_utf8', /UTF-8/, truckDevice, true],
    [Buffer.alloc(DEFAULT_LIMITS.maxPayloadBytes + 1, 0x20), 'payload_too_large', /limit/, truckDevice, true],
    [[], 'too_many_fixes', /array holds 0/, truckDevice],
    [truckPayload({ lon: -181 }), 'coordinates_out_of_range', /lon -181/, truckDevice],
    [truckPayload({ ts: NOW + 10 * 60_000 }), 'ts_in_future', /ahead/, truckDevice],
    [truckPayload({ ts: NOW - 8 * 86_400_000 }), 'ts_too_old', /horizon/, truckDevice],
    [truckPayload({ device: 'dev-other' }), 'topic_device_mismatch', /dev-other/, truckDevice],
    [truckPayload({ lat: undefined }), 'schema', /^lat/, truckDevice],
  ];
  for (const [payload, reason, detail, device, raw] of cases) {
    const { fixes, rejections } = decode(payload, device, raw);
    t.is(fixes.length, 0, reason);
    t.is(rejections[0]?.reason as string | undefined, reason);
    t.regex(rejections[0]?.detail ?? '', detail, reason);
  }
});

test('a backfilled fix from days ago within the horizon is accepted', (t) => {
  const { fixes } = decode(truckPayload({ ts: NOW - 3 * 86_400_000 }));
  t.is(fixes.length, 1);
});

test('acc true/false is ignition (ACC, JT/T 808 status bit 0), as ign; the accuracy is accuracy', (t) => {
  const { accuracy: _a, ...noAccuracy } = truckPayload();
  for (const acc of [true, false]) {
    const { fixes, rejections, deprecatedNumericAcc } = decode({ ...noAccuracy, acc });
    t.deepEqual(rejections, []);
    t.is(fixes[0]?.ign, acc);
    t.is(fixes[0]?.accuracy, undefined);
    t.false('acc' in fixes[0]!);
    t.is(deprecatedNumericAcc, 0);
  }
  const both = decode(truckPayload({ acc: true, ign: true, accuracy: 3.2 }));
  t.deepEqual(both.rejections, []);
  t.like(both.fixes[0], { ign: true, accuracy: 3.2 });
});

test('a numeric acc is the accuracy of the old contract: read as accuracy for one release and counted', (t) => {
  const { accuracy: _a, ...noAccuracy } = truckPayload();
  const one = decode({ ...noAccuracy, acc: 4.8 });
  t.deepEqual(one.rejections, []);
  t.is(one.fixes[0]?.accuracy, 4.8);
  t.is(one.fixes[0]?.ign, undefined);
  t.is(one.deprecatedNumericAcc, 1);
  const batch = decode([
    { ...noAccuracy, acc: 5 },
    { ...noAccuracy, ts: NOW - 500, accuracy: 6 },
    { ...noAccuracy, ts: NOW - 400, acc: 7, accuracy: 7 },
  ]);
  t.deepEqual(
    batch.fixes.map((f) => f.accuracy),
    [5, 6, 7],
  );
  t.is(batch.deprecatedNumericAcc, 2);
  t.is(decode(truckPayload()).deprecatedNumericAcc, 0);
});

test('acc that contradicts ign, or a numeric acc that differs from accuracy, is refused naming acc', (t) => {
  const ign = decode(truckPayload({ acc: true, ign: false }));
  t.deepEqual(ign.fixes, []);
  t.is(ign.rejections[0]?.reason, 'schema');
  t.regex(ign.rejections[0]?.detail ?? '', /^acc: ignition true contradicts ign false/);
  const accuracy = decode(truckPayload({ acc: 5, accuracy: 6 }));
  t.deepEqual(accuracy.fixes, []);
  t.regex(
    accuracy.rejections[0]?.detail ?? '',
    /^acc: the deprecated numeric accuracy 5 differs from accuracy 6/,
  );
  const text = decode(truckPayload({ acc: 'on' }));
  t.is(text.rejections[0]?.reason, 'schema');
  t.regex(text.rejections[0]?.detail ?? '', /^acc: expected a boolean \(ignition, ACC\)/);
});

/** Hundreds of hostile payloads: every one is refused with a reason and nothing throws. */
function hostilePayloads(): Buffer[] {
  const out: Buffer[] = [];
  const fields = [
    'ts',
    'lat',
    'lon',
    'speed',
    'heading',
    'alt',
    'sats',
    'accuracy',
    'acc',
    'load',
    'weight',
    'cover',
    'lift',
  ];
  const badValues: unknown[] = [
    null,
    'NaN',
    'Infinity',
    -1e308,
    1e308,
    true,
    [],
    {},
    [1, 2],
    '',
    '中文',
    { $gt: 0 },
    -1e6,
    1.5e20,
  ];
  for (const f of fields)
    for (const v of badValues) {
      if (f === 'acc' && v === true) continue; // ignition on: valid
      out.push(Buffer.from(JSON.stringify(truckPayload({ [f]: v }))));
    }
  for (const raw of [
    'NaN',
    'Infinity',
    '-Infinity',
    'undefined',
    '{lat:1}',
    "{'ts':1}",
    '[1,2',
    '{"ts":1,}',
    '',
  ]) {
    out.push(Buffer.from(raw));
  }
  out.push(Buffer.from(`{"lat":${'1'.repeat(400)},"lon":1,"ts":1}`));
  out.push(Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)));
  out.push(Buffer.from(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`));
  out.push(Buffer.from(JSON.stringify(Array.from({ length: 1001 }, () => truckPayload()))));
  out.push(Buffer.from(JSON.stringify(Array.from({ length: 5000 }, () => 1))));
  out.push(Buffer.from('"just a string"'));
  out.push(Buffer.from('12345'));
  out.push(Buffer.from('null'));
  out.push(Buffer.from('{"__proto__":{"polluted":true},"ts":1}'));
  out.push(Buffer.from([0xc3, 0x28]));
  out.push(Buffer.from([0xed, 0xa0, 0x80])); // UTF-16 surrogate encoded in UTF-8: invalid
  out.push(Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]));
  out.push(Buffer.alloc(300_000, 'a'));
  for (let i = 0; i < 150; i++) {
    // deterministic garbage bytes
    const b = Buffer.alloc(64);
    for (let j = 0; j < b.length; j++) b[j] = (i * 131 + j * 17) & 0xff;
    out.push(b);
  }
  return out;
}

test('hundreds of hostile payloads are all refused with a reason, none throws', (t) => {
  const payloads = hostilePayloads();
  t.true(payloads.length >= 300, `${payloads.length} payloads`);
  for (const payload of payloads) {
    const { fixes, rejections } = decode(payload, truckDevice, true);
    t.is(fixes.length, 0, payload.subarray(0, 60).toString());
    t.true(rejections.length > 0);
  }
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test('topic parsing accepts only devices/{id}/telemetry', (t) => {
  t.is(deviceIdFromTelemetryTopic('devices/abc/telemetry'), 'abc');
  t.is(deviceIdFromTelemetryTopic('devices//telemetry'), undefined);
  t.is(deviceIdFromTelemetryTopic('devices/a/b/telemetry'), undefined);
  t.is(deviceIdFromTelemetryTopic('devices/abc/status'), undefined);
});
