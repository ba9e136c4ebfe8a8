/**
 * The evidence storm of issue 10 (defect 1) at full size, on real servers: the platform as `npm start`
 * runs it (a child process, default settings) with a real influxd as its store.
 *
 *  1. Outage: influxd stopped; 1,000 trucks publish fixes 6 minutes apart, so 20,000 TRACK_GAPs open and
 *     close (40,000 events, 20,000 evidence packages); influxd stays down 60 s from the moment it
 *     stopped; then it returns and the platform drains (time to drain after InfluxDB returns).
 *  2. SIGTERM and restart mid-storm: influxd stopped again, 1,000 more trucks, another 20,000; SIGTERM
 *     while influxd is still down (time to exit against SHUTDOWN_FLUSH_MS); influxd back, the platform
 *     started again on the same data drains the rest (time to drain after the restart).
 *
 * Throughout: /healthz latency (4 requests a second, open loop), the sockets the platform process holds
 * to influxd (/proc), its peak RSS (VmHWM), the most evidence store calls it ran at once; at the end,
 * what InfluxDB holds (violations, phase points, packages) against what the fleet produced.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ChildPlatform, spawnPlatform } from '../../testkit/child-platform.ts';
import { type InfluxdServer, startInfluxd } from '../../testkit/servers/influxd.ts';
import { type MonitorFigures, monitorPlatform, type PlatformMonitor, percentile } from '../monitor.ts';
import {
  type CheapFleet,
  publishFleet,
  seedCheapFleet,
  stopReport,
  stormCounts,
  stormTrack,
} from '../storm-world.ts';
import type { Figure, Scenario, StressContext } from '../types.ts';

const DATABASE = 'cw_stress';
const FIXES_EACH = 21; // 20 TRACK_GAPs per truck
/** the platform's defaults (platform/config.ts), stated in the figures */
const MAX_SOCKETS = 16;
const EVIDENCE_CONCURRENCY = 4;
const SHUTDOWN_FLUSH_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

interface Running {
  p: ChildPlatform;
  mon: PlatformMonitor;
}

async function start(env: Record<string, string>, influxPort: number): Promise<Running> {
  const p = await spawnPlatform(env, 120_000);
  const mon = monitorPlatform(p.child.pid!, `http://127.0.0.1:${p.ports.http}`, influxPort);
  return { p, mon };
}

/** Everything the platform holds for the store is stored (spool, outbox, evidence). */
function drained(mon: PlatformMonitor): true | undefined {
  const c = mon.last?.components.compliance;
  const spool = mon.last?.components.spool;
  return c &&
    c.state === 'ok' &&
    c.outbox === 0 &&
    c.queuedViolations === 0 &&
    (c.evidence?.due ?? c.pendingEvidence) === 0 &&
    spool?.depthFixes === 0
    ? true
    : undefined;
}

/** Every event of `violations` more violations is committed (the engine has judged every fix). */
async function allJudged(mon: PlatformMonitor, violations: number, timeoutMs: number): Promise<void> {
  await until(
    `${violations} closed violations in the outbox`,
    () => {
      const c = mon.last?.components.compliance;
      return c && c.outbox >= 2 * violations && (c.evidence?.due ?? c.pendingEvidence) >= violations
        ? true
        : undefined;
    },
    timeoutMs,
  );
}

async function stormPhase(
  ctx: StressContext,
  mqttPort: number,
  fleet: CheapFleet,
  from: number,
  count: number,
): Promise<void> {
  const endTs = Date.now() - 1000;
  const part: CheapFleet = { ids: fleet.ids.slice(from, from + count), secret: fleet.secret };
  const t0 = Date.now();
  const fixes = await publishFleet(
    `mqtt://127.0.0.1:${mqttPort}`,
    part,
    (_id, i) => [stormTrack(FIXES_EACH, endTs, 31.5 + (from + i) * 0.0005)],
    32,
  );
  ctx.progress(
    `[stress] ${count} trucks published ${fixes} fixes in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

async function sigterm(r: Running): Promise<{ ms: number; code: number | null; output: string }> {
  await r.mon.stopAsking();
  const t0 = Date.now();
  r.p.child.kill('SIGTERM');
  const code = await r.p.exited;
  return { ms: Date.now() - t0, code, output: r.p.output() };
}

export const evidenceStorm: Scenario = {
  name: 'evidence-storm',
  description: '20,000 violations closing while InfluxDB is down 60 s, then SIGTERM and a restart mid-storm',
  async run(ctx) {
    const trucks = ctx.quick ? 100 : 1000;
    const outageMs = ctx.quick ? 15_000 : 60_000;
    const perPhase = trucks * (FIXES_EACH - 1);
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-stress-storm-'));
    let influx: InfluxdServer | undefined;
    const runs: Running[] = [];
    try {
      influx = await startInfluxd();
      const server = influx;
      const fleet = seedCheapFleet(dataDir, 2 * trucks, 'ss-');
      const env = {
        DATA_DIR: dataDir,
        SIMULATE: '0',
        ADMIN_TOKEN: 'stress-admin-token-0123456789',
        INFLUX_URL: server.url,
        INFLUX_DATABASE: DATABASE,
        LOG_LEVEL: 'info',
        // the fleet replays its last hour in order: on the wall clock minutes of received - ts on every
        // device read as the platform behind its own queues, and the gaps of that hour would become
        // platform gaps at random (test/compliance/evidence-storm.test.ts says more); a replay runs on the fleet clock
        COMPLIANCE_CLOCK: 'fleet',
      };
      const first = await start(env, server.port);
      runs.push(first);
      await until(
        'the event store open',
        () => (first.mon.last?.components.compliance?.state === 'ok' ? true : undefined),
        60_000,
      );

      // 1. the outage, then the drain in the same process
      ctx.progress(
        `[stress] phase 1: influxd stopped for ${outageMs / 1000} s; ${perPhase} violations close meanwhile`,
      );
      await server.stop();
      const down = Date.now();
      await stormPhase(ctx, first.p.ports.mqtt, fleet, 0, trucks);
      await allJudged(first.mon, perPhase, 300_000);
      ctx.progress(
        `[stress] all ${perPhase} violations judged ${((Date.now() - down) / 1000).toFixed(1)} s into the outage`,
      );
      await sleep(Math.max(0, down + outageMs - Date.now()));
      await server.restart();
      const back = Date.now();
      ctx.progress('[stress] influxd back; draining');
      await until('the drain after the outage', () => drained(first.mon), 1_800_000);
      const drainAfterReturnS = (Date.now() - back) / 1000;
      ctx.progress(`[stress] drained ${drainAfterReturnS.toFixed(1)} s after influxd returned`);

      // 2. another storm, SIGTERM while influxd is down, a restart on the same data, the drain
      ctx.progress(`[stress] phase 2: influxd stopped; ${perPhase} more violations; SIGTERM mid-outage`);
      await server.stop();
      await stormPhase(ctx, first.p.ports.mqtt, fleet, trucks, trucks);
      await allJudged(first.mon, perPhase, 300_000);
      await sleep(ctx.quick ? 2_000 : 10_000);
      const stop1 = await sigterm(first);
      const left = stopReport(stop1.output);
      ctx.progress(
        `[stress] SIGTERM mid-outage: exit ${stop1.code} after ${stop1.ms} ms; ${left?.msg ?? 'no stop report'}`,
      );
      await server.restart();
      const restarted = Date.now();
      const second = await start(env, server.port);
      runs.push(second);
      await until('the drain after the restart', () => drained(second.mon), 1_800_000);
      const drainAfterRestartS = (Date.now() - restarted) / 1000;
      ctx.progress(`[stress] drained ${drainAfterRestartS.toFixed(1)} s after the restart`);
      const counts = await stormCounts(server.url, DATABASE);
      const stop2 = await sigterm(second);
      const seen: MonitorFigures[] = [];
      for (const r of runs) seen.push(await r.mon.stop());

      const healthMs = seen.flatMap((s) => s.healthMs);
      const expected = 2 * perPhase;
      const mib = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
      const ms = (v: number) => Math.round(v * 10) / 10;
      const figures: Figure[] = [
        { name: 'storm_violations', value: expected, unit: 'violations', note: `2 storms of ${perPhase}` },
        { name: 'storm_outage_s', value: outageMs / 1000, unit: 's', note: 'phase 1: influxd down' },
        {
          name: 'storm_healthz_requests',
          value: healthMs.length,
          unit: 'answers',
          note: '4/s, open loop, whole run',
        },
        {
          name: 'storm_healthz_unanswered',
          value: seen.reduce((n, s) => n + s.healthUnanswered, 0),
          unit: 'requests',
          note: 'no answer within 30 s',
        },
        { name: 'storm_healthz_p50_ms', value: ms(percentile(healthMs, 50)), unit: 'ms' },
        {
          name: 'storm_healthz_p99_ms',
          value: ms(percentile(healthMs, 99)),
          unit: 'ms',
          note: 'goal <= 1000',
        },
        { name: 'storm_healthz_max_ms', value: ms(percentile(healthMs, 100)), unit: 'ms' },
        {
          name: 'storm_peak_rss_mib',
          value: mib(Math.max(...seen.map((s) => s.peakRssBytes))),
          unit: 'MiB',
          note: 'platform process, VmHWM',
        },
        {
          name: 'storm_peak_sockets_influx',
          value: Math.max(...seen.map((s) => s.peakSockets)),
          unit: 'sockets',
          note: `from /proc; bound INFLUX_MAX_SOCKETS = ${MAX_SOCKETS}`,
        },
        {
          name: 'storm_influx_max_sockets',
          value: MAX_SOCKETS,
          unit: 'sockets',
          note: 'the bound (default)',
        },
        {
          name: 'storm_peak_evidence_calls',
          value: Math.max(...seen.map((s) => s.peakEvidenceCalls)),
          unit: 'calls',
          note: `bound EVIDENCE_CONCURRENCY = ${EVIDENCE_CONCURRENCY}`,
        },
        {
          name: 'storm_drain_after_return_s',
          value: ms(drainAfterReturnS),
          unit: 's',
          note: `phase 1: ${perPhase} violations`,
        },
        {
          name: 'storm_drain_after_restart_s',
          value: ms(drainAfterRestartS),
          unit: 's',
          note: `phase 2: ${perPhase} violations, from the restart`,
        },
        {
          name: 'storm_sigterm_exit_ms',
          value: stop1.ms,
          unit: 'ms',
          note: `mid-outage, exit code ${stop1.code}; goal <= 10,000 + SHUTDOWN_FLUSH_MS ${SHUTDOWN_FLUSH_MS}`,
        },
        { name: 'storm_sigterm_exit_code', value: stop1.code ?? -1, unit: '' },
        {
          name: 'storm_sigterm_left_evidence',
          value: left?.evidenceDue ?? -1,
          unit: 'packages',
          note: 'said at the exit, built after the restart',
        },
        {
          name: 'storm_sigterm_drained_exit_ms',
          value: stop2.ms,
          unit: 'ms',
          note: `after the drain, exit code ${stop2.code}`,
        },
        {
          name: 'storm_shutdown_flush_ms',
          value: SHUTDOWN_FLUSH_MS,
          unit: 'ms',
          note: 'SHUTDOWN_FLUSH_MS (default)',
        },
        { name: 'storm_stored_violations', value: counts.violations, unit: 'violations' },
        {
          name: 'storm_lost_violations',
          value: expected - Math.min(expected, counts.violations),
          unit: 'violations',
        },
        {
          name: 'storm_lost_evidence',
          value: expected - Math.min(expected, counts.evidence),
          unit: 'packages',
        },
        {
          name: 'storm_doubled',
          value:
            Math.max(0, counts.violations - expected) +
            Math.max(0, counts.phases - 2 * expected) +
            Math.max(0, counts.evidence - expected),
          unit: 'points',
          note: 'violations, phase points or packages beyond one each',
        },
      ];
      return figures;
    } finally {
      for (const r of runs) r.p.child.kill('SIGKILL');
      await influx?.destroy();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  },
};
