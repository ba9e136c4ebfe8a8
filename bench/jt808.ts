import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { ViolationEvent } from '../geofence/types.ts';
import { loadConfig } from '../platform/config.ts';
import { type Platform, startPlatform } from '../platform/platform.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../registry/compliance.ts';
import { hashSecret } from '../registry/secrets.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import { type Jt808LoadSummary, loadPhone } from '../simulators/load/jt808.ts';
import { type InfluxdServer, startInfluxd } from '../testkit/servers/influxd.ts';
import { freePort } from '../testkit/servers/ports.ts';
import { lastJson, spawnTs } from './child.ts';
import { CycleMeter } from './cycle-meter.ts';
import { seedE2eWorld } from './e2e-world.ts';
import { cpuSeconds } from './proc-stat.ts';
import type { BenchContext, Benchmark, Figure } from './types.ts';
import { WindowProfiler } from './window-profile.ts';

/**
 * JT/T 808 end to end, the e2e benchmark's set-up with terminals instead of MQTT devices: 1,000
 * terminal connections (a child process, simulators/load/jt808.ts) authenticate and send 0x0200
 * reports, at most 8 unanswered each (e2e's window); the gateway decodes each, ingest validates it and
 * makes it durable (spool, fdatasync) before the 0x8001 reply; the pump writes to a real influxd and
 * the compliance engine judges every fix against a permit (the same world as e2e). jt808_msgs_per_s
 * counts the 0x8001 answers in the measured window; jt808_ratio divides it by this run's
 * e2e_msgs_per_s (the MQTT figure, PUBACKs in its window), when the e2e benchmark ran before.
 */

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const SHARED_SECRET = 'bench-terminal-code-0123456789';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** an earlier benchmark's figure of this run: ctx.figures where the runner shares them */
function earlierFigure(ctx: BenchContext, name: string): number | undefined {
  return (ctx as BenchContext & { figures?: Readonly<Record<string, number>> }).figures?.[name];
}

/** the platform's work counts a window mark takes (the same as e2e's marks) */
function platformWork(p: Platform) {
  const spool = p.spool.stats();
  const ps = p.complianceService.persistStats;
  return {
    appended: spool.appendedRecords,
    flushes: spool.flushes,
    stateCommits: ps.commits,
    stateVehicles: ps.vehiclesSaved,
    stateMs: ps.totalMs,
  };
}

async function influxCount(url: string, db: string): Promise<number> {
  const res = await fetch(`${url}/query?db=${db}&q=${encodeURIComponent('SELECT count(lat) FROM fix')}`);
  const body = (await res.json()) as { results?: { series?: { values?: [string, number][] }[] }[] };
  return body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0;
}

export const jt808: Benchmark = {
  name: 'jt808',
  description:
    'JT/T 808 end to end: 1,000 terminal connections (child process) -> 0x0102, 0x0200 -> decode, validate, spool (fdatasync) -> 0x8001; pump -> real InfluxDB; compliance engine',
  async run(ctx) {
    const connections = 1000;
    // --quick keeps the whole quick run under 3 minutes: a shorter window than e2e's (rates compare)
    const durationS = ctx.quick ? 5 : 30;
    const warmupS = ctx.quick ? 2 : 5;
    const window = 8;
    const database = 'bench808';
    const tmp = await mkdtemp(join(tmpdir(), 'citywatch-bench-jt808-'));
    let influx: InfluxdServer | undefined;
    let platform: Platform | undefined;
    try {
      ctx.progress('[jt808] starting influxd');
      influx = await startInfluxd();
      const dataDir = join(tmp, 'data');
      const secretHash = await hashSecret(SHARED_SECRET);
      const devices = Array.from({ length: connections }, (_, i) => {
        const n = String(i + 1).padStart(5, '0');
        return {
          id: `bench-term-${n}`,
          kind: 'muck_truck' as const,
          vehicle: `bench-veh-${n}`,
          firm: 'bench-firm',
          reportIntervalS: 10,
          secretHash,
          jt808: { phone: loadPhone(i + 1), model: 'citywatch-muck-1' },
        };
      });
      const registry = new SqliteRegistry({ dir: join(dataDir, 'registry') });
      const complianceRegistry = new ComplianceRegistry({
        dir: join(dataDir, 'compliance'),
        vehicles: () => vehicleProfilesFrom(registry),
      });
      try {
        registry.upsertFirm({ id: 'bench-firm', name: 'Bench Transport Co.' });
        // one transaction (one fsync) for the fleet, as e2e provisions its own, not one per truck
        registry.importVehicles(
          devices.map((d) => ({
            id: d.vehicle,
            plate: `皖A·J${d.vehicle.slice(-5)}`,
            kind: 'muck_truck' as const,
            firm: d.firm,
            ratedLoadT: 18,
          })),
        );
        registry.importDevices(devices);
        seedE2eWorld(
          complianceRegistry,
          devices.map((d, index) => ({ index, vehicle: d.vehicle, firm: d.firm })),
          { offRouteEvery: 20 },
        );
      } finally {
        complianceRegistry.close();
        registry.close();
      }
      const idsFile = join(tmp, 'devices.json');
      await writeFile(idsFile, JSON.stringify(devices.map((d) => ({ id: d.id, secret: SHARED_SECRET }))));

      let stored = 0;
      const jt808Port = await freePort();
      const config = loadConfig({
        HTTP_PORT: '0',
        MQTT_PORT: '0',
        MQTT_WS_PORT: '0',
        JT808_PORT: String(jt808Port),
        SIMULATE: '0',
        DATA_DIR: dataDir,
        ADMIN_TOKEN,
        INFLUX_URL: influx.url,
        INFLUX_DATABASE: database,
        LOG_LEVEL: 'warn',
        // A terminal's time is whole seconds (BCD), so each truck's reports are one second apart and its
        // time runs about ten times faster than the wall clock at this rate, from two hours back (never
        // ahead: fixes over 5 min in the future are refused). On the wall clock such a fleet reads as a
        // platform two hours behind its intake, and opened a 'behind' outage that e2e never has; the
        // fleet's own clock is the setting for a fleet whose time is not the present (README,
        // COMPLIANCE_CLOCK).
        COMPLIANCE_CLOCK: 'fleet',
      });
      platform = await startPlatform(config, {
        logger: pino({ level: 'warn' }),
        onStored: (fixes) => {
          stored += fixes.length;
        },
      });
      const p = platform;
      // the engine's output, as e2e reports it: the two runs should judge alike
      let violationEvents = 0;
      const openedByCode = new Map<string, number>();
      p.complianceService.bus.on('violation', (ev: ViolationEvent) => {
        violationEvents++;
        if (ev.phase === 'opened')
          openedByCode.set(ev.violation.code, (openedByCode.get(ev.violation.code) ?? 0) + 1);
      });
      const storeDeadline = Date.now() + 30_000;
      while ((await p.health()).components.store?.state !== 'ok') {
        if (Date.now() > storeDeadline) throw new Error('InfluxDB store did not become ready in 30 s');
        await sleep(50);
      }
      ctx.progress(
        `[jt808] ${connections} terminals -> 127.0.0.1:${jt808Port}, window ${window}, warm-up ${warmupS} s, ${durationS} s measured`,
      );
      const t0 = performance.now();
      type Cpu = {
        platform: number | undefined;
        generator: number | undefined;
        t: number;
        elu: ReturnType<typeof performance.eventLoopUtilization>;
        /** the platform's own counts at the mark (e2e takes the same): fixes made durable, spool flushes */
        appended: number;
        flushes: number;
        /** engine-state commits to compliance-state.sqlite, the vehicles they saved, their time */
        stateCommits: number;
        stateVehicles: number;
        stateMs: number;
      };
      let w0: Cpu | undefined;
      let w1: Cpu | undefined;
      // BENCH_CPU_PROFILE: the measured window alone (window-profile.ts)
      const profiler = new WindowProfiler('jt808');
      // the rate and CPU per fix over whole intake cycles, as e2e measures its own (cycle-meter.ts)
      const cycles = new CycleMeter();
      p.core.onFixes(cycles.onFixes);
      const child = spawnTs(
        'simulators/load-cli.ts',
        [
          '--jt808',
          `127.0.0.1:${jt808Port}`,
          '--ids-file',
          idsFile,
          '--connections',
          String(connections),
          '--window',
          String(window),
          '--duration',
          String(durationS),
          '--warmup',
          String(warmupS),
          '--events',
          '--quiet',
        ],
        {
          onStderrLine: (line) => ctx.progress(`  ${line}`),
          onStdoutLine: (line) => {
            if (!line.startsWith('{"event"')) return;
            const event = (JSON.parse(line) as { event: string }).event;
            const at: Cpu = {
              platform: cpuSeconds(process.pid),
              generator: cpuSeconds(child.child.pid),
              t: performance.now(),
              elu: performance.eventLoopUtilization(),
              ...platformWork(p),
            };
            if (event === 'window_start') {
              w0 = at;
              cycles.start();
              profiler.start();
            }
            if (event === 'window_end') {
              w1 = at;
              cycles.stop();
              profiler.stop().then(
                (path) => path && ctx.progress(`[jt808] CPU profile of the window: ${path}`),
                (err: Error) => ctx.progress(`[jt808] CPU profile failed: ${err.message}`),
              );
            }
          },
        },
      );
      const code = await child.exited;
      if (code !== 0) throw new Error(`JT/T 808 load generator exited with ${code}`);
      const summary = lastJson<Jt808LoadSummary>(child, 'JT/T 808 load generator');
      ctx.progress(
        `[jt808] ${summary.connected}/${connections} connected in ${summary.rampS} s; ${summary.windowAcked} answered in ${summary.windowS} s; ${summary.refused} refused, ${summary.unacked} unanswered (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
      // every answered report must reach InfluxDB: the answer came after the spool, the pump follows
      const drainDeadline = Date.now() + 60_000;
      while (p.spool.stats().depthRecords > 0 && Date.now() < drainDeadline) await sleep(100);
      const inInflux = await influxCount(influx.url, database);
      ctx.progress(
        `[jt808] compliance: ${violationEvents} violation events; opened by code: ${JSON.stringify(Object.fromEntries(openedByCode))}; late fixes: ${JSON.stringify(p.complianceService.status().late)}`,
      );

      const figures: Figure[] = [
        {
          name: 'jt808_msgs_per_s',
          value: summary.ackedPerS,
          unit: 'msg/s',
          note: `0x0200 answered 0x8001 after being durable, ${summary.connected} terminal connections, window ${window}`,
        },
      ];
      const mqtt = earlierFigure(ctx, 'e2e_msgs_per_s');
      if (mqtt !== undefined && mqtt > 0) {
        figures.push({
          name: 'jt808_ratio',
          value: Math.round((summary.ackedPerS / mqtt) * 1000) / 1000,
          unit: 'ratio',
          note: `jt808_msgs_per_s / e2e_msgs_per_s (${mqtt}) of this run: the same platform set-up, connections and window over MQTT QoS 1 (goal >= 0.8)`,
        });
      } else ctx.progress('[jt808] no e2e_msgs_per_s in this run (run e2e first): jt808_ratio omitted');
      if (summary.latencyMs) {
        figures.push(
          {
            name: 'jt808_p50_ms',
            value: summary.latencyMs.p50,
            unit: 'ms',
            note: '0x0200 -> 0x8001 (durable)',
          },
          { name: 'jt808_p99_ms', value: summary.latencyMs.p99, unit: 'ms' },
        );
      }
      const share = (k: 'platform' | 'generator') =>
        w0?.[k] !== undefined && w1?.[k] !== undefined
          ? (w1[k]! - w0[k]!) / ((w1.t - w0.t) / 1000)
          : undefined;
      const cpuPlatform = share('platform');
      const cpuGenerator = share('generator');
      if (cpuPlatform !== undefined && cpuGenerator !== undefined) {
        figures.push(
          {
            name: 'jt808_cpu_platform',
            value: Math.round(cpuPlatform * 100) / 100,
            unit: 'cores',
            note: 'CPU of the platform process (gateway, ingest, engine, pump) during the window',
          },
          {
            name: 'jt808_cpu_generator',
            value: Math.round(cpuGenerator * 100) / 100,
            unit: 'cores',
            note: 'the terminals’ process',
          },
        );
      }
      const cpuUsPerMsg =
        w0?.platform !== undefined && w1?.platform !== undefined && summary.windowAcked > 0
          ? Math.round(((w1.platform - w0.platform) * 1e6) / summary.windowAcked)
          : undefined;
      if (cpuUsPerMsg !== undefined) {
        figures.push({
          name: 'jt808_cpu_us_per_msg',
          value: cpuUsPerMsg,
          unit: 'µs',
          note: `platform CPU in the window / the ${summary.windowAcked} answers of the window`,
        });
        const mqttUs = earlierFigure(ctx, 'e2e_cpu_us_per_msg');
        if (mqttUs !== undefined && cpuUsPerMsg > 0) {
          figures.push({
            name: 'jt808_cpu_ratio',
            value: Math.round((mqttUs / cpuUsPerMsg) * 1000) / 1000,
            unit: 'ratio',
            note: `e2e_cpu_us_per_msg (${mqttUs}) / jt808_cpu_us_per_msg: above 1 a report costs the platform less CPU than an MQTT message; unlike jt808_ratio, it does not move with the share of the machine each run got`,
          });
        }
      }
      const cycle = cycles.figures();
      if (cycle !== undefined) {
        figures.push(
          {
            name: 'jt808_cycle_fixes_per_s',
            value: Math.round(cycle.fixesPerS),
            unit: 'fix/s',
            note: `0x0200 fixes made durable and judged over the whole intake cycles of the window (${cycle.fixes} fixes, ${cycle.bursts - 1} cycles, ${cycle.seconds.toFixed(2)} s; bench/cycle-meter.ts)`,
          },
          {
            name: 'jt808_cycle_cpu_us_per_fix',
            value: Math.round(cycle.cpuUsPerFix),
            unit: 'µs',
            note: 'platform CPU per fix over the same whole cycles',
          },
        );
        const mqttRate = earlierFigure(ctx, 'e2e_cycle_fixes_per_s');
        const mqttUs = earlierFigure(ctx, 'e2e_cycle_cpu_us_per_fix');
        if (mqttRate !== undefined && mqttRate > 0)
          figures.push({
            name: 'jt808_cycle_ratio',
            value: Math.round((cycle.fixesPerS / mqttRate) * 1000) / 1000,
            unit: 'ratio',
            note: `jt808_cycle_fixes_per_s / e2e_cycle_fixes_per_s (${mqttRate}): the rate ratio over whole cycles, which the window's count of answers quantizes (goal >= 0.8, as jt808_ratio)`,
          });
        if (mqttUs !== undefined && cycle.cpuUsPerFix > 0)
          figures.push({
            name: 'jt808_cycle_cpu_ratio',
            value: Math.round((mqttUs / cycle.cpuUsPerFix) * 1000) / 1000,
            unit: 'ratio',
            note: `e2e_cycle_cpu_us_per_fix (${mqttUs}) / jt808_cycle_cpu_us_per_fix: above 1 a report costs the platform less CPU than an MQTT message, counted over whole cycles on both sides`,
          });
      } else ctx.progress('[jt808] fewer than two intake cycles in the window: no jt808_cycle_* figures');
      if (w0 !== undefined && w1 !== undefined) {
        const fixes = w1.appended - w0.appended;
        const commits = w1.stateCommits - w0.stateCommits;
        ctx.progress(
          `[jt808] window (platform side): ${fixes} fixes made durable in ${((w1.t - w0.t) / 1000).toFixed(2)} s, ` +
            `${w1.flushes - w0.flushes} spool flushes, cpu ${w1.platform !== undefined && w0.platform !== undefined ? Math.round(((w1.platform - w0.platform) * 1e6) / Math.max(1, fixes)) : '?'} µs per durable fix; ` +
            `${commits} state commits, ${w1.stateVehicles - w0.stateVehicles} vehicle states saved (${((w1.stateVehicles - w0.stateVehicles) / Math.max(1, fixes)).toFixed(3)} per fix), ` +
            `${(w1.stateMs - w0.stateMs).toFixed(0)} ms committing`,
        );
        figures.push({
          name: 'jt808_platform_event_loop_util',
          value: Math.round(performance.eventLoopUtilization(w1.elu, w0.elu).utilization * 1000) / 1000,
          unit: 'ratio',
          note: 'busy share of the platform main thread during the window',
        });
      }
      figures.push(
        { name: 'jt808_connections', value: summary.connected, unit: 'connections' },
        {
          name: 'jt808_connect_s',
          value: summary.rampS,
          unit: 's',
          note: 'TCP + 0x0102 authentication of every terminal',
        },
        {
          name: 'jt808_stored_matches_answered',
          value: inInflux >= summary.acked - summary.refused ? 1 : 0,
          unit: 'bool',
          note: `InfluxDB holds ${inInflux} fixes, ${summary.acked - summary.refused} reports were answered success (${stored} stored by the pump)`,
        },
      );
      return figures;
    } finally {
      await platform?.stop().catch(() => undefined);
      await influx?.destroy().catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    }
  },
};
