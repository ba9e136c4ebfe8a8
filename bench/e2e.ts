import { readdirSync, readFileSync } from 'node:fs';
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
import type { LoadSummary } from '../simulators/load.ts';
import { type InfluxdServer, startInfluxd } from '../test/servers/influxd.ts';
import { lastJson, spawnTs } from './child.ts';
import { seedE2eWorld } from './e2e-world.ts';
import type { BenchContext, Benchmark, Figure } from './types.ts';

/**
 * The platform end to end: a real InfluxDB 1.x (influxd child process), the whole platform in this
 * process (embedded aedes with scrypt device auth and ACL -> ingest: decode, zod validation,
 * normalization, dedupe -> spool with group-committed fdatasync -> PUBACK; pump -> InfluxDB line
 * protocol), and the load generator as a separate process: N provisioned muck-truck devices publishing
 * QoS 1 fixes as fast as a window of W unacknowledged publishes per connection allows.
 *
 * PUBACK is sent only once the fix is fdatasync'ed in the spool, so the publishers' acked rate is the
 * durable intake rate and publish -> PUBACK is publish -> durably stored. The store side is measured
 * separately (fixes InfluxDB took during the window, then how long the spool takes to drain), and the
 * count in InfluxDB is checked against the acked count at the end. CPU seconds of the three processes
 * over the window (from /proc/<pid>/stat) show where the time goes on a small machine.
 *
 * The compliance engine is in the path: every truck has an active permit built around the line it
 * drives (bench/e2e-world.ts: route with corridor and segment speed limit, origin and disposal sites),
 * so every acknowledged fix is judged by all the rules against a real permit, and the shell saves the
 * engine state and its outbox to compliance-state.sqlite every flush (200 ms). 1 truck in 20 drives
 * outside its corridor, so OFF_ROUTE violations flow to InfluxDB during the run as well.
 */

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const SHARED_SECRET = 'bench-device-secret-0123456789';

// ---- figures shared between benchmarks of one run (e2e_ratio needs raw_broker_msgs_per_s) ----

const shared = new WeakMap<BenchContext, Record<string, number>>();

/**
 * Wraps a benchmark so its figures are visible to later benchmarks of the same run (same context);
 * the registry in run.ts wraps raw-broker with it so e2e can report e2e_ratio.
 */
export function sharingFigures(b: Benchmark): Benchmark {
  return {
    name: b.name,
    description: b.description,
    async run(ctx) {
      const figures = await b.run(ctx);
      const map = shared.get(ctx) ?? {};
      for (const f of figures) map[f.name] = f.value;
      shared.set(ctx, map);
      return figures;
    },
  };
}

// ---- CPU accounting from /proc ----

const CLK_TCK = 100; // USER_HZ; 100 on every Linux architecture Node supports

/** utime + stime of a process in seconds, or undefined when it is gone (or not Linux). */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may contain spaces and parentheses)
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): utime is field 14, stime field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Machine-wide busy and idle CPU seconds (all cores) from /proc/stat. */
function machineCpu(): { busy: number; idle: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (counted in user)
    return { busy: (total - idle) / CLK_TCK, idle: idle / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** The influxd started by startInfluxd() is a direct child of this process. */
function findChildPid(comm: string): number | undefined {
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const c = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (c === comm && ppid === process.pid) return Number(name);
      } catch {
        // raced with an exiting process
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

interface Mark {
  t: number;
  stored: number;
  storeWrites: number;
  /** fixes acknowledged but not yet in the store */
  backlog: number;
  appended: number;
  flushes: number;
  elu: ReturnType<typeof performance.eventLoopUtilization>;
  cpuPlatform: number | undefined;
  cpuPublishers: number | undefined;
  cpuInfluxd: number | undefined;
  machine: { busy: number; idle: number } | undefined;
  /** violation events the compliance engine produced so far */
  violations: number;
  /** engine-state commits to compliance-state.sqlite so far (PersistStats) */
  stateCommits: number;
  stateVehicles: number;
  stateMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function influxCount(url: string, db: string): Promise<number> {
  const q = encodeURIComponent('SELECT count(lat) FROM fix');
  const res = await fetch(`${url}/query?db=${encodeURIComponent(db)}&q=${q}`);
  const body = (await res.json()) as {
    results?: { series?: { values?: [string, number][] }[]; error?: string }[];
  };
  if (!res.ok || body.results?.[0]?.error) {
    throw new Error(`InfluxDB count failed: HTTP ${res.status} ${body.results?.[0]?.error ?? ''}`);
  }
  return body.results?.[0]?.series?.[0]?.values?.[0]?.[1] ?? 0;
}

export const e2e: Benchmark = {
  name: 'e2e',
  description:
    'platform end to end: N QoS 1 devices (child process) -> auth, validate, spool (fdatasync) -> PUBACK; pump -> real InfluxDB 1.x; compliance engine judging every fix against a permit',
  async run(ctx) {
    // 1,000 in both modes: with 2,000 publishers the bare aedes baseline overflowed its stack
    // (RangeError in mqemitter delivering to the QoS 1 subscriber), and the ratio needs equal loads.
    const connections = 1000;
    const durationS = ctx.quick ? 10 : 30;
    const warmupS = ctx.quick ? 3 : 5;
    const window = 8; // as raw-broker, so e2e_ratio compares like with like
    const database = 'bench';

    const tmp = await mkdtemp(join(tmpdir(), 'citywatch-bench-e2e-'));
    let influx: InfluxdServer | undefined;
    let platform: Platform | undefined;
    let child: ReturnType<typeof spawnTs> | undefined;
    try {
      ctx.progress('[e2e] starting influxd');
      influx = await startInfluxd();
      const influxPid = findChildPid('influxd');

      // ---- provisioning, before the platform starts (so the engine compiles the world once):
      // devices with one scrypt hash shared by all, in one transaction; a permit world per truck
      const dataDir = join(tmp, 'data');
      let t = performance.now();
      const secretHash = await hashSecret(SHARED_SECRET);
      const devices = Array.from({ length: connections }, (_, i) => {
        const n = String(i + 1).padStart(5, '0');
        return {
          id: `bench-truck-${n}`,
          kind: 'muck_truck' as const,
          vehicle: `bench-veh-${n}`,
          firm: 'bench-firm',
          // the nominal interval of a real terminal: OFFLINE allows 3x it. With 1 s, the publish ->
          // PUBACK queueing of an overloaded run (seconds) alone read as device silence.
          reportIntervalS: 10,
          secretHash,
        };
      });
      const registry = new SqliteRegistry({ dir: join(dataDir, 'registry') });
      const complianceRegistry = new ComplianceRegistry({
        dir: join(dataDir, 'compliance'),
        vehicles: () => vehicleProfilesFrom(registry),
      });
      let world: ReturnType<typeof seedE2eWorld>;
      try {
        registry.upsertFirm({ id: 'bench-firm', name: 'Bench Transport Co.' });
        registry.importDevices(devices);
        for (const d of devices)
          registry.upsertVehicle({
            id: d.vehicle,
            plate: `皖A·B${d.vehicle.slice(-5)}`,
            kind: 'muck_truck',
            firm: d.firm,
            ratedLoadT: 18,
          });
        ctx.progress(
          `[e2e] provisioned ${connections} muck trucks in ${(performance.now() - t).toFixed(0)} ms ` +
            '(1 scrypt hash + 1 transaction); connecting verifies each with scrypt',
        );
        t = performance.now();
        world = seedE2eWorld(
          complianceRegistry,
          devices.map((d, index) => ({ index, vehicle: d.vehicle, firm: d.firm })),
          { offRouteEvery: 20 },
        );
      } finally {
        complianceRegistry.close();
        registry.close();
      }
      ctx.progress(
        `[e2e] compliance world: ${world.permits} permits, ${world.routes} routes, ${world.sites} sites ` +
          `(${world.offRouteTrucks} trucks outside their corridor) in ${(performance.now() - t).toFixed(0)} ms`,
      );
      const idsFile = join(tmp, 'devices.json');
      await writeFile(idsFile, JSON.stringify(devices.map((d) => ({ id: d.id, secret: SHARED_SECRET }))));

      let stored = 0;
      let storeWrites = 0;
      let lastStoredAt = 0;
      const config = loadConfig({
        HTTP_PORT: '0',
        MQTT_PORT: '0',
        MQTT_WS_PORT: '0',
        SIMULATE: '0',
        DATA_DIR: dataDir,
        ADMIN_TOKEN,
        INFLUX_URL: influx.url,
        INFLUX_DATABASE: database,
        LOG_LEVEL: 'warn',
      });
      platform = await startPlatform(config, {
        logger: pino({ level: 'warn' }),
        onStored: (fixes) => {
          stored += fixes.length;
          storeWrites++;
          lastStoredAt = performance.now();
        },
      });
      const p = platform;
      let violationEvents = 0;
      const openedByCode = new Map<string, number>();
      p.complianceService.bus.on('violation', (e: ViolationEvent) => {
        violationEvents++;
        if (e.phase === 'opened')
          openedByCode.set(e.violation.code, (openedByCode.get(e.violation.code) ?? 0) + 1);
      });
      // the pump starts once the store is open (CREATE DATABASE answered)
      const storeDeadline = Date.now() + 30_000;
      while ((await p.health()).components.store?.state !== 'ok') {
        if (Date.now() > storeDeadline) throw new Error('InfluxDB store did not become ready in 30 s');
        await sleep(50);
      }
      const url = `mqtt://127.0.0.1:${p.ports.mqtt}`;
      ctx.progress(`[e2e] influxd on ${influx.url}, platform MQTT on ${url}`);

      // ---- load
      const marks: Partial<Record<'ramp_done' | 'window_start' | 'window_end', Mark>> = {};
      const mark = (): Mark => {
        const s = p.spool.stats();
        return {
          t: performance.now(),
          stored,
          storeWrites,
          backlog: s.depthRecords,
          appended: s.appendedRecords,
          flushes: s.flushes,
          elu: performance.eventLoopUtilization(),
          cpuPlatform: cpuSeconds(process.pid),
          cpuPublishers: cpuSeconds(child?.child.pid),
          cpuInfluxd: cpuSeconds(influxPid),
          machine: machineCpu(),
          violations: violationEvents,
          stateCommits: p.complianceService.persistStats.commits,
          stateVehicles: p.complianceService.persistStats.vehiclesSaved,
          stateMs: p.complianceService.persistStats.totalMs,
        };
      };
      ctx.progress(
        `[e2e] load generator: ${connections} connections, QoS 1, window ${window}, warm-up ${warmupS} s, ${durationS} s measured`,
      );
      t = performance.now();
      child = spawnTs(
        'simulators/load-cli.ts',
        [
          '--url',
          url,
          '--ids-file',
          idsFile,
          '--connections',
          String(connections),
          '--qos',
          '1',
          '--window',
          String(window),
          '--duration',
          String(durationS),
          '--warmup',
          String(warmupS),
          '--drain',
          '10000',
          '--events',
        ],
        {
          onStdoutLine: (line) => {
            if (!line.startsWith('{"event"')) return;
            const event = (JSON.parse(line) as { event: string }).event;
            if (event === 'ramp_done' || event === 'window_start' || event === 'window_end') {
              marks[event] = mark();
            }
          },
          onStderrLine: (line) => ctx.progress(`  ${line}`),
        },
      );
      const code = await child.exited;
      const exitedAt = performance.now();
      if (code !== 0) throw new Error(`load generator exited with ${code}`);
      const summary = lastJson<LoadSummary>(child, 'load generator');
      const w0 = marks.window_start;
      const w1 = marks.window_end;
      if (!w0 || !w1) throw new Error('no window events from the load generator');

      // ---- drain: until the spool is empty (everything acknowledged is in InfluxDB)
      const drainDeadline = performance.now() + 60_000;
      let lastReport = performance.now();
      while (p.spool.stats().depthRecords > 0 || stored < summary.acked) {
        if (performance.now() > drainDeadline) {
          ctx.progress(`[e2e] warning: spool not drained after 60 s (${p.spool.stats().depthRecords} left)`);
          break;
        }
        if (performance.now() - lastReport > 1000) {
          ctx.progress(
            `[e2e] draining: ${p.spool.stats().depthRecords} fixes in the spool, ${stored} stored`,
          );
          lastReport = performance.now();
        }
        await sleep(5);
      }
      // the last store write that emptied the spool (it may come before the generator has exited)
      const drainedAt = p.spool.stats().depthRecords === 0 ? lastStoredAt : performance.now();
      const drained = mark();
      const inInflux = await influxCount(influx.url, database);
      ctx.progress(
        `[e2e] acked ${summary.acked}, stored via pump ${stored}, count(lat) in InfluxDB ${inInflux}, ` +
          `unacked ${summary.unacked}, errors ${summary.errors}`,
      );
      if (summary.errors > 0) ctx.progress(`[e2e] load errors: ${summary.errorSamples.join('; ')}`);
      // the engine's output: wait (bounded) until the compliance queue is in InfluxDB, then count it
      const eventsDeadline = performance.now() + 30_000;
      while (p.complianceService.status().queuedViolations > 0 && performance.now() < eventsDeadline)
        await sleep(50);
      const storedViolations = (await p.events.violations({ firm: 'bench-firm', limit: 10_000 })).items;
      const offRouteStored = storedViolations.filter((v) => v.code === 'OFF_ROUTE').length;
      const cs = p.complianceService.status();
      ctx.progress(
        `[e2e] compliance: ${cs.vehicles} vehicles judged, ${violationEvents} violation events, ` +
          `${storedViolations.length} violations in InfluxDB (${offRouteStored} OFF_ROUTE; expected ${world.offRouteTrucks}), ` +
          `${cs.queuedViolations} still queued, ${p.complianceService.persistStats.commits} state commits; ` +
          `opened by code: ${JSON.stringify(Object.fromEntries(openedByCode))}`,
      );

      // ---- figures
      const windowS = (w1.t - w0.t) / 1000;
      const ackedPerS = summary.ackedPerS;
      const raw = shared.get(ctx)?.raw_broker_msgs_per_s;
      const l = summary.latencyMs;
      const figures: Figure[] = [
        {
          name: 'e2e_msgs_per_s',
          value: Math.round(ackedPerS),
          unit: 'msg/s',
          note:
            `durable (PUBACKed) fixes over ${summary.windowS} s, ${summary.connected} devices, QoS 1, window ${window}; ` +
            "compliance engine in the path: every fix judged against its truck's active permit (route corridor, speed limit, sites), engine state saved every 200 ms",
        },
      ];
      if (raw !== undefined && raw > 0) {
        figures.push({
          name: 'e2e_ratio',
          value: Math.round((ackedPerS / raw) * 1000) / 1000,
          unit: 'ratio',
          note: `e2e_msgs_per_s / raw_broker_msgs_per_s (${raw}) of this run; that baseline also delivers every message to 1 QoS 1 subscriber, the platform's ingest hook does not`,
        });
      } else {
        ctx.progress('[e2e] no raw_broker_msgs_per_s in this run (run raw-broker first): e2e_ratio omitted');
      }
      if (l) {
        figures.push(
          {
            name: 'e2e_p50_ms',
            value: l.p50,
            unit: 'ms',
            note: 'publish -> PUBACK = publish -> fdatasync in the spool',
          },
          { name: 'e2e_p99_ms', value: l.p99, unit: 'ms', note: 'publish -> durably stored (PUBACK)' },
          { name: 'e2e_max_ms', value: l.max, unit: 'ms' },
        );
      }
      figures.push(
        {
          name: 'e2e_pub_sent_per_s',
          value: Math.round(summary.sentPerS),
          unit: 'msg/s',
          note: 'publishes made by the generator in the window (its own rate)',
        },
        {
          name: 'e2e_stored_per_s',
          value: Math.round((w1.stored - w0.stored) / windowS),
          unit: 'fix/s',
          note: 'fixes written to InfluxDB by the pump during the window',
        },
        {
          name: 'e2e_drain_ms',
          value: Math.round(Math.max(0, drainedAt - w1.t)),
          unit: 'ms',
          note: 'end of publishing -> spool empty (all in InfluxDB)',
        },
        {
          name: 'e2e_spool_backlog_at_end',
          value: w1.backlog,
          unit: 'fix',
          note: 'acknowledged, not yet in InfluxDB, when publishing stopped',
        },
        {
          name: 'e2e_stored_sustained_per_s',
          value: Math.round((stored - w0.stored) / ((drainedAt - w0.t) / 1000)),
          unit: 'fix/s',
          note: 'fixes stored from window start until the spool was empty / that time',
        },
        {
          name: 'e2e_stored_matches_acked',
          value: inInflux === summary.acked ? 1 : 0,
          unit: 'bool',
          note: `count(lat) in InfluxDB ${inInflux} vs acked ${summary.acked}`,
        },
        { name: 'e2e_connections', value: summary.connected, unit: 'connections' },
        {
          name: 'e2e_connect_s',
          value: summary.rampS,
          unit: 's',
          note: 'opening all connections, each verified with scrypt (N=16384)',
        },
        {
          name: 'e2e_spool_fixes_per_flush',
          value: Math.round(((w1.appended - w0.appended) / Math.max(1, w1.flushes - w0.flushes)) * 10) / 10,
          unit: 'fix',
          note: `group commit: ${w1.flushes - w0.flushes} write+fdatasync in the window`,
        },
        {
          name: 'e2e_store_batch_fixes',
          value: Math.round((w1.stored - w0.stored) / Math.max(1, w1.storeWrites - w0.storeWrites)),
          unit: 'fix',
          note: `${w1.storeWrites - w0.storeWrites} InfluxDB writes in the window`,
        },
        {
          name: 'e2e_platform_event_loop_util',
          value: Math.round(performance.eventLoopUtilization(w1.elu, w0.elu).utilization * 1000) / 1000,
          unit: 'ratio',
          note: 'busy share of the platform main thread during the window',
        },
      );
      const commits = w1.stateCommits - w0.stateCommits;
      figures.push(
        {
          name: 'e2e_engine_violation_events',
          value: w1.violations - w0.violations,
          unit: 'events',
          note: `violation events the engine produced during the window (${violationEvents} in the whole run)`,
        },
        {
          name: 'e2e_engine_off_route_stored',
          value: offRouteStored,
          unit: 'violations',
          note: `OFF_ROUTE violations in InfluxDB at the end; ${world.offRouteTrucks} trucks drove outside their corridor`,
        },
        {
          name: 'e2e_state_commits_per_s',
          value: Math.round((commits / windowS) * 10) / 10,
          unit: 'commit/s',
          note: 'engine state + outbox transactions (fsync) to compliance-state.sqlite during the window',
        },
        {
          name: 'e2e_state_vehicles_per_commit',
          value: Math.round((w1.stateVehicles - w0.stateVehicles) / Math.max(1, commits)),
          unit: 'vehicles',
        },
        {
          name: 'e2e_state_commit_ms_avg',
          value: Math.round(((w1.stateMs - w0.stateMs) / Math.max(1, commits)) * 100) / 100,
          unit: 'ms',
          note: `serialize + write + fsync, on the main thread; max over the run ${p.complianceService.persistStats.maxMs.toFixed(1)} ms`,
        },
      );
      const cpu = (name: string, a: number | undefined, b: number | undefined, note: string) => {
        if (a !== undefined && b !== undefined)
          figures.push({ name, value: Math.round((b - a) * 100) / 100, unit: 'CPU s', note });
      };
      const over = `over the ${windowS.toFixed(1)} s window`;
      cpu(
        'e2e_cpu_platform_s',
        w0.cpuPlatform,
        w1.cpuPlatform,
        `bench process = platform (+ a few ms bench) ${over}`,
      );
      cpu('e2e_cpu_publishers_s', w0.cpuPublishers, w1.cpuPublishers, `load generator child ${over}`);
      cpu('e2e_cpu_influxd_s', w0.cpuInfluxd, w1.cpuInfluxd, `influxd ${over}`);
      cpu('e2e_cpu_machine_busy_s', w0.machine?.busy, w1.machine?.busy, `all cores, all processes ${over}`);
      cpu('e2e_cpu_machine_idle_s', w0.machine?.idle, w1.machine?.idle, `all cores (idle + iowait) ${over}`);
      const drainOver = `while draining (${((drained.t - w1.t) / 1000).toFixed(1)} s after the window)`;
      cpu('e2e_cpu_drain_platform_s', w1.cpuPlatform, drained.cpuPlatform, drainOver);
      cpu('e2e_cpu_drain_influxd_s', w1.cpuInfluxd, drained.cpuInfluxd, drainOver);
      ctx.progress(
        `[e2e] connecting took ${summary.rampS} s; the load generator ran ${((exitedAt - t) / 1000).toFixed(1)} s in all`,
      );
      return figures;
    } finally {
      if (child && child.child.exitCode === null) child.child.kill('SIGKILL');
      await platform?.stop().catch((err: Error) => ctx.progress(`[e2e] platform stop: ${err.message}`));
      await influx?.destroy().catch((err: Error) => ctx.progress(`[e2e] influxd stop: ${err.message}`));
      await rm(tmp, { recursive: true, force: true });
    }
  },
};
