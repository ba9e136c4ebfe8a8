/**
 * The README's own `mosquitto_pub` example must not charge anyone (issue 10 item 7): it published as the
 * live demo truck dev-d1234, 2.9 km from where the truck was, and opened two TRACK_GAPs against the demo
 * firm. The example now publishes as the sandbox device. This test reads the example from the README as a
 * user would copy it, checks that the device is the sandbox's (seeded with the demo, driven by no
 * simulator, its firm alone), and judges the payload with the real engine in the demo's world, with a
 * tick two hours later: nothing.
 */
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { chinaCalendar } from '../../geofence/calendar.ts';
import { compileWorld } from '../../geofence/compile.ts';
import { createEngine } from '../../geofence/engine.ts';
import { ALL_RULES } from '../../geofence/rules/index.ts';
import { DEFAULT_THRESHOLDS } from '../../geofence/thresholds/index.ts';
import { normalizeFix } from '../../ingest/normalize.ts';
import { fixSchemaByKind } from '../../ingest/payload.ts';
import { demoComplianceSeed } from '../../simulators/demo/compliance.ts';
import { demoRegistrySeed, demoSandboxSeed, SANDBOX } from '../../simulators/demo/registry.ts';
import { demoScenarioFleet } from '../../simulators/demo/scenario-trucks.ts';

async function readmeExample(): Promise<{
  user: string;
  clientId: string;
  topic: string;
  payload: Record<string, unknown>;
}> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /```sh\n(mosquitto_pub [^`]*?)```/.exec(readme);
  if (!block) throw new Error('no mosquitto_pub example in the README');
  const cmd = block[1]!.replace(/\\\n\s*/g, ' ');
  const user = / -u (\S+)/.exec(cmd)![1]!;
  const clientId = / -i (\S+)/.exec(cmd)![1]!;
  const topic = / -t (\S+)/.exec(cmd)![1]!;
  const message = / -m "(.*)"\s*$/.exec(cmd.trim())![1]!;
  const now = Date.now();
  const json = message.replace(/\\"/g, '"').replace('$(date +%s%3N)', String(now));
  return { user, clientId, topic, payload: JSON.parse(json) as Record<string, unknown> };
}

test('the README mosquitto_pub example publishes as the sandbox device, which no simulated fleet drives', async (t) => {
  const ex = await readmeExample();
  t.is(ex.user, SANDBOX.device);
  t.is(ex.topic, `devices/${SANDBOX.device}/telemetry`);
  // the broker takes a device's own id, or its id and a separator, as its client id (README, MQTT contract)
  t.regex(ex.clientId, new RegExp(`^${SANDBOX.device}(?:[-_.:].*)?$`));
  const sandbox = demoSandboxSeed();
  t.deepEqual(
    sandbox.devices.map((d) => [d.id, d.vehicle, d.firm]),
    [[SANDBOX.device, SANDBOX.vehicle, SANDBOX.firm.id]],
  );
  const driven = [...demoRegistrySeed().devices, ...demoScenarioFleet().devices].map((d) => d.id);
  t.false(driven.includes(SANDBOX.device), 'the demo fleet does not drive it');
  const firms = [...demoRegistrySeed().vehicles, ...demoScenarioFleet().vehicles].map((v) => v.firm);
  t.false(firms.includes(SANDBOX.firm.id), 'its firm has no other vehicle');
  t.true(fixSchemaByKind.muck_truck.safeParse(ex.payload).success, 'the payload is a valid fix');
});

test('the README example, judged in the demo world and two hours of silence after it, is no violation', async (t) => {
  const ex = await readmeExample();
  const now = Number(ex.payload.ts);
  const seed = demoComplianceSeed(now);
  const world = compileWorld({
    ...seed,
    vehicles: [
      {
        id: SANDBOX.vehicle,
        version: 1,
        firm: SANDBOX.firm.id,
        kind: 'muck_truck',
        ratedLoadT: 18,
        reportIntervalS: 10,
      },
    ],
    thresholds: { id: 'city', version: 1, values: DEFAULT_THRESHOLDS },
  });
  const device = demoSandboxSeed().devices[0]!;
  const fix = normalizeFix(
    fixSchemaByKind.muck_truck.parse(ex.payload),
    {
      id: device.id,
      kind: device.kind,
      unit: device.vehicle!,
      firm: device.firm,
      reportIntervalS: device.reportIntervalS ?? 10,
      enabled: true,
    },
    now + 100,
  );
  const engine = createEngine(ALL_RULES, chinaCalendar);
  const stepped = engine.step(engine.initial(SANDBOX.vehicle), fix, world);
  t.deepEqual(stepped.events, []);
  t.deepEqual(engine.tick(stepped.state, now + 2 * 3_600_000, world).events, []);
});
