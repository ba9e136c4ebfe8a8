import { performance } from 'node:perf_hooks';
import type { ViolationEvent } from '../geofence/types.ts';
import type { LoadStepResult } from '../simulators/load/options.ts';
import type { TsChild } from './child.ts';
import { CycleMeter } from './cycle-meter.ts';
import { influxCount, startE2ePlatform } from './e2e-platform.ts';
import { SustainedSearch } from './e2e-sustained.ts';
import { burstShape, runSteppedGenerator } from './load-run.ts';
import { cpuSeconds, machineCpu } from './proc-stat.ts';
import type { Benchmark, Figure } from './types.ts';
import { WindowProfiler } from './window-profile.ts';

/**
 * The platform end to end, flat out: a real InfluxDB 1.x (influxd child process), the whole platform in
 * this process (embedded aedes with scrypt device auth and ACL -> ingest: decode, zod validation,
 * normalization, dedupe -> spool with group-committed fdatasync -> PUBACK; pump -> InfluxDB line
 * protocol), and the load generator as a separate process: N provisioned muck-truck devices publishing
 * QoS 1 fixes as fast as a window of W unacknowledged publishes per connection allows (e2e-platform.ts).
 *
 * PUBACK is sent only once the fix is fdatasync'ed in the spool, so the publishers' acked rate is the
 * durable intake rate and publish -> PUBACK is publish -> durably stored. It is counted at the
 * publishers over the generator's window, exactly as raw_broker_puback_msgs_per_s is against a bare
 * aedes with the same connections, window and durations (load-run.ts burstShape): e2e_ratio divides
 * the one by the other. This is a burst: intake runs ahead of InfluxDB and the difference waits in the
 * spool (e2e_spool_backlog_at_end, e2e_drain_ms); what the platform sustains with the store keeping pace
 * is e2e-sustained's figure. The count in InfluxDB is checked against the acked count at the end. CPU
 * seconds of the three processes over the window (from /proc/<pid>/stat) show where the time goes.
 *
 * The compliance engine is in the path: every truck has an active permit built around the line it
 * drives (bench/e2e-world.ts: route with corridor and segment speed limit, origin and disposal sites),
 * so every acknowledged fix is judged by all the rules against a real permit, and the shell saves the
 * engine state and its outbox to compliance-state.sqlite every flush (200 ms). 1 truck in 20 drives
 * outside its corridor, so OFF_ROUTE violations flow to InfluxDB during the run as well.
 */

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

export const e2e: Benchmark = {
  name: 'e2e',
  description:
    'platform end to end: N QoS 1 devices (child process) -> auth, validate, spool (fdatasync) -> PUBACK; pump -> real InfluxDB 1.x; compliance engine judging every fix against a permit; flat out (burst), then the highest rate it sustains (3 min)',
  async run(ctx) {
    const { connections, window, durationS, warmupS } = burstShape(ctx);
    const e = await startE2ePlatform(ctx, '[e2e]', connections);
    const { platform: p, influx, influxPid, world } = e;
    let child: TsChild | undefined;
    try {
      let violationEvents = 0;
      const openedByCode = new Map<string, number>();
      p.complianceService.bus.on('violation', (ev: ViolationEvent) => {
        violationEvents++;
        if (ev.phase === 'opened')
          openedByCode.set(ev.violation.code, (openedByCode.get(ev.violation.code) ?? 0) + 1);
      });

      // ---- load
      const marks: Partial<Record<'ramp_done' | 'window_start' | 'window_end', Mark>> = {};
      const mark = (): Mark => {
        const s = p.spool.stats();
        const st = e.stored();
        return {
          t: performance.now(),
          stored: st.fixes,
          storeWrites: st.writes,
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
      const t = performance.now();
      // One generator for the burst and the sustained search after it (e2e-sustained.ts), so the trucks
      // drive on from where they were: a second generator would start every truck's line again, a jump
      // of kilometres in seconds that the engine would rightly judge (and build evidence for).
      const search = new SustainedSearch(ctx, e);
      const profiler = new WindowProfiler('e2e');
      // the burst's rate and CPU per fix over whole intake cycles (cycle-meter.ts)
      const cycles = new CycleMeter();
      const unsubscribeCycles = p.core.onFixes(cycles.onFixes);
      let figures: Figure[] | undefined;
      await runSteppedGenerator(ctx, {
        url: e.url,
        idsFile: e.idsFile,
        connections,
        window,
        drainMs: 10_000,
        first: { warmupS, durationS },
        label: '[e2e]',
        onSpawn: (c) => {
          child = c;
          search.publishers = c;
        },
        onEvent: (event) => {
          if (figures === undefined) {
            marks[event] = mark();
            // BENCH_CPU_PROFILE: the burst's measured window alone (window-profile.ts)
            if (event === 'window_start') {
              cycles.start();
              profiler.start();
            }
            if (event === 'window_end') {
              cycles.stop();
              unsubscribeCycles();
            }
            if (event === 'window_end')
              profiler.stop().then(
                (path) => path && ctx.progress(`[e2e] CPU profile of the window: ${path}`),
                (err: Error) => ctx.progress(`[e2e] CPU profile failed: ${err.message}`),
              );
          } else search.onEvent(event);
        },
        onWindow: async (result) => {
          if (figures !== undefined) return search.onWindow(result);
          figures = await burst(result);
          // the search starts from what the burst acknowledged (its upper bound) and what InfluxDB
          // took meanwhile (the first guess)
          return search.start({
            hi: Math.max(1000, Math.round(figures.find((f) => f.name === 'e2e_msgs_per_s')?.value ?? 0)),
            firstGuess: figures.find((f) => f.name === 'e2e_stored_per_s')?.value ?? 0,
            raw: ctx.figures?.raw_broker_puback_msgs_per_s,
          });
        },
      });
      if (figures === undefined) throw new Error('the burst window never ended');
      figures.push(...search.figures());
      return figures;

      async function burst(summary: LoadStepResult): Promise<Figure[]> {
        const exitedAt = performance.now();
        const w0 = marks.window_start;
        const w1 = marks.window_end;
        if (!w0 || !w1) throw new Error('no window events from the load generator');

        // ---- drain: until the spool is empty (everything acknowledged is in InfluxDB)
        const drainDeadline = performance.now() + 60_000;
        let lastReport = performance.now();
        while (p.spool.stats().depthRecords > 0 || e.stored().fixes < summary.acked) {
          if (performance.now() > drainDeadline) {
            ctx.progress(
              `[e2e] warning: spool not drained after 60 s (${p.spool.stats().depthRecords} left)`,
            );
            break;
          }
          if (performance.now() - lastReport > 1000) {
            ctx.progress(
              `[e2e] draining: ${p.spool.stats().depthRecords} fixes in the spool, ${e.stored().fixes} stored`,
            );
            lastReport = performance.now();
          }
          await sleep(5);
        }
        // the last store write that emptied the spool (it may come before the generator has exited)
        const drainedAt = p.spool.stats().depthRecords === 0 ? e.stored().lastAt : performance.now();
        const drained = mark();
        const stored = e.stored().fixes;
        const inInflux = await influxCount(influx.url);
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
            `opened by code: ${JSON.stringify(Object.fromEntries(openedByCode))}; late fixes: ${JSON.stringify(cs.late)}`,
        );

        // ---- figures
        const windowS = (w1.t - w0.t) / 1000;
        const ackedPerS = summary.ackedPerS;
        const raw = ctx.figures?.raw_broker_puback_msgs_per_s;
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
            note: `e2e_msgs_per_s / raw_broker_puback_msgs_per_s (${raw}) of this run: PUBACKs at the publishers on both sides, same connections, window and durations`,
          });
        } else {
          ctx.progress(
            '[e2e] no raw_broker_puback_msgs_per_s in this run (run raw-broker first): e2e_ratio omitted',
          );
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
        const cycle = cycles.figures();
        if (cycle !== undefined) {
          figures.push(
            {
              name: 'e2e_cycle_fixes_per_s',
              value: Math.round(cycle.fixesPerS),
              unit: 'fix/s',
              note: `fixes made durable and judged over the whole intake cycles of the window (${cycle.fixes} fixes, ${cycle.bursts - 1} cycles, ${cycle.seconds.toFixed(2)} s; bench/cycle-meter.ts)`,
            },
            {
              name: 'e2e_cycle_cpu_us_per_fix',
              value: Math.round(cycle.cpuUsPerFix),
              unit: 'µs',
              note: 'platform CPU per fix over the same whole cycles',
            },
          );
        } else ctx.progress('[e2e] fewer than two intake cycles in the window: no e2e_cycle_* figures');
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
        if (w0.cpuPlatform !== undefined && w1.cpuPlatform !== undefined && summary.windowAcked > 0) {
          // the platform's CPU per acknowledged message: what a message costs, whatever share of the
          // machine the run got (jt808 compares its own with it: jt808_cpu_ratio)
          figures.push({
            name: 'e2e_cpu_us_per_msg',
            value: Math.round(((w1.cpuPlatform - w0.cpuPlatform) * 1e6) / summary.windowAcked),
            unit: 'µs',
            note: `platform CPU ${over} / the ${summary.windowAcked} PUBACKs of the window`,
          });
        }
        cpu('e2e_cpu_publishers_s', w0.cpuPublishers, w1.cpuPublishers, `load generator child ${over}`);
        cpu('e2e_cpu_influxd_s', w0.cpuInfluxd, w1.cpuInfluxd, `influxd ${over}`);
        cpu('e2e_cpu_machine_busy_s', w0.machine?.busy, w1.machine?.busy, `all cores, all processes ${over}`);
        cpu(
          'e2e_cpu_machine_idle_s',
          w0.machine?.idle,
          w1.machine?.idle,
          `all cores (idle + iowait) ${over}`,
        );
        const drainOver = `while draining (${((drained.t - w1.t) / 1000).toFixed(1)} s after the window)`;
        cpu('e2e_cpu_drain_platform_s', w1.cpuPlatform, drained.cpuPlatform, drainOver);
        cpu('e2e_cpu_drain_influxd_s', w1.cpuInfluxd, drained.cpuInfluxd, drainOver);
        ctx.progress(
          `[e2e] connecting took ${summary.rampS} s; the burst's window ended ${((exitedAt - t) / 1000).toFixed(1)} s after the generator started`,
        );
        return figures;
      }
    } finally {
      if (child && child.child.exitCode === null) child.child.kill('SIGKILL');
      await e.close();
    }
  },
};
