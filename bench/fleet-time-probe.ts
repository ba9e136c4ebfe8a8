/**
 * Does the JT/T 808 fleet of bench/jt808.ts cost the platform more per fix than e2e's MQTT fleet because
 * of its fix times? (Issue 14.) The 808 terminals' times are whole seconds, one second apart per truck
 * from two hours back, judged on COMPLIANCE_CLOCK=fleet; the MQTT trucks' are the wall clock's. At the
 * benchmark's rates the 808 fleet's time runs several times faster than the wall, so whatever the
 * platform does per minute or per tick of a vehicle's time (the permits in force, recomputed per minute;
 * a history checkpoint every 2 minutes; the silence tick every 5 s of the judgement clock) comes several
 * times more often per fix.
 *
 * This drives the platform of the e2e benchmark (e2e-platform.ts: real InfluxDB, 1,000 trucks with their
 * permits) in this process without a transport: rounds of one fix per truck into the ingest core, each
 * round awaited (durable), and prints this process's CPU per fix over the measured rounds with the
 * engine-state commits. Modes:
 *   mqtt     the MQTT fleet's fixes (JSON, wall-clock times), COMPLIANCE_CLOCK=wall
 *   808      the same JSON with the 808 fleet's times (no accuracy), COMPLIANCE_CLOCK=fleet
 *   808obj   the 808 fleet as the gateway hands it to ingest: each fix encoded as a 0x0200 body, decoded,
 *            mapped by the shipped model (location-fix.ts) and given to acceptFixObjects
 *
 *   node --import tsx bench/fleet-time-probe.ts mqtt,808,808obj [--rounds 40]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { decode0200, encodeLocation } from '../gateway/jt808/codec/msg-0200.ts';
import { locationToFixObject } from '../gateway/jt808/location-fix.ts';
import { loadConfig } from '../platform/config.ts';
import { startPlatform } from '../platform/platform.ts';
import { SHIPPED_MODEL } from '../registry/device-models.ts';
import { FixFactory } from '../simulators/load/fix-factory.ts';
import { payloadToLocation } from '../simulators/shared/jt808-fix.ts';
import { startInfluxd } from '../testkit/servers/influxd.ts';
import { provisionE2eFleet } from './e2e-platform.ts';

const MODES = ['mqtt', '808', '808obj'] as const;
type Mode = (typeof MODES)[number];
const TRUCKS = 1000;
const WARMUP_ROUNDS = 10;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function probe(mode: Mode, rounds: number): Promise<Record<string, unknown>> {
  const tmp = await mkdtemp(join(tmpdir(), 'citywatch-fleet-time-'));
  const influx = await startInfluxd();
  try {
    const dataDir = join(tmp, 'data');
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    const fleet = await provisionE2eFleet({ quick: true, progress }, `[${mode}]`, dataDir, TRUCKS);
    const p = await startPlatform(
      loadConfig({
        HTTP_PORT: '0',
        MQTT_PORT: '0',
        MQTT_WS_PORT: '0',
        JT808_PORT: '0',
        SIMULATE: '0',
        DATA_DIR: dataDir,
        ADMIN_TOKEN: 'bench-admin-token-0123456789',
        INFLUX_URL: influx.url,
        INFLUX_DATABASE: 'probe',
        LOG_LEVEL: 'warn',
        COMPLIANCE_CLOCK: mode === 'mqtt' ? 'wall' : 'fleet',
      }),
      { logger: pino({ level: 'warn' }) },
    );
    try {
      while ((await p.health()).components.store?.state !== 'ok') await sleep(50);
      // the load generators' trucks (seed 1): the lines the permits were built around
      const trucks = fleet.trucks.map((t, i) => ({
        ...t,
        fixes: new FixFactory(100_003 + i),
        device: p.registry.device(t.device)!,
      }));
      const baseTs = Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000;
      let n = 0;
      const round = async () => {
        const jobs: Promise<unknown>[] = [];
        for (const t of trucks) {
          if (mode === 'mqtt') {
            const payload = Buffer.from(t.fixes.next(Date.now()));
            jobs.push(p.core.accept(`devices/${t.device.id}/telemetry`, payload, 'embedded'));
            continue;
          }
          const json = t.fixes.next(baseTs + n * 1000);
          if (mode === '808') {
            const payload = Buffer.from(json.replace(',"accuracy":6.5', ''));
            jobs.push(p.core.accept(`devices/${t.device.id}/telemetry`, payload, 'embedded'));
            continue;
          }
          const loc = decode0200(encodeLocation(payloadToLocation(JSON.parse(json))));
          const items = [locationToFixObject(loc, 'muck_truck', SHIPPED_MODEL)];
          const raw = () => Buffer.alloc(0);
          jobs.push(
            p.core.acceptFixObjects(
              { device: t.device, items, batch: false, topic: 'jt808/probe', raw },
              'jt808',
            ),
          );
        }
        n++;
        await Promise.all(jobs);
      };
      for (let r = 0; r < WARMUP_ROUNDS; r++) await round();
      const ps0 = { ...p.complianceService.persistStats };
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let r = 0; r < rounds; r++) await round();
      const cpu = process.cpuUsage(cpu0);
      const wallMs = performance.now() - t0;
      const ps1 = p.complianceService.persistStats;
      const fixes = rounds * TRUCKS;
      // what the history holds: a row per judged fix, a checkpoint (the judge's state as JSON) now and then
      await p.complianceService.flush();
      const db = new Database(join(dataDir, 'compliance-state.sqlite'), { readonly: true });
      const history = db
        .prepare(
          'SELECT count(*) AS rows, count(checkpoint) AS checkpoints, avg(length(checkpoint)) AS checkpointBytes, avg(length(fix)) AS fixBytes FROM history',
        )
        .get() as Record<string, number>;
      db.close();
      return {
        mode,
        fixes,
        cpu_us_per_fix: Math.round((cpu.user + cpu.system) / fixes),
        wall_us_per_fix: Math.round((wallMs * 1000) / fixes),
        state_commits: ps1.commits - ps0.commits,
        vehicle_states_saved: ps1.vehiclesSaved - ps0.vehiclesSaved,
        vehicles_judged: p.complianceService.status().vehicles,
        history_rows: history.rows,
        history_checkpoints: history.checkpoints,
        history_checkpoint_bytes_avg: Math.round(history.checkpointBytes ?? 0),
        history_fix_bytes_avg: Math.round(history.fixBytes ?? 0),
      };
    } finally {
      await p.stop();
    }
  } finally {
    await influx.destroy();
    await rm(tmp, { recursive: true, force: true });
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '40' } },
});
for (const mode of (positionals[0] ?? 'mqtt,808,808obj').split(',')) {
  if (!MODES.includes(mode as Mode)) throw new Error(`mode "${mode}": one of ${MODES.join(', ')}`);
  process.stdout.write(`${JSON.stringify(await probe(mode as Mode, Number(values.rounds)))}\n`);
}
process.exit(0);
