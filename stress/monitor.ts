/**
 * Watches a platform process from outside while a stress scenario runs: GET /healthz at a fixed rate
 * (open loop: a slow answer does not delay the next request, so a stall shows in the latencies instead
 * of thinning the samples), the sockets it holds to a port (from /proc, testkit/proc-sockets.ts)
 * and its peak resident memory (VmHWM in /proc/PID/status, the kernel's high-water mark).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { sampleSockets } from '../testkit/proc-sockets.ts';
import type { Health } from './storm-world.ts';

export interface MonitorFigures {
  /** /healthz answer times, ms, in the order sent */
  healthMs: number[];
  /** requests with no answer within the timeout (or a failed connection) */
  healthUnanswered: number;
  peakSockets: number;
  /** most evidence store calls the platform reported running at once */
  peakEvidenceCalls: number;
  peakRssBytes: number;
}

export interface PlatformMonitor {
  /** the latest health report answered */
  readonly last: Health | undefined;
  /** stops asking /healthz (before a SIGTERM closes the API); the rest goes on until stop() */
  stopAsking(): Promise<void>;
  stop(): Promise<MonitorFigures>;
}

export function monitorPlatform(
  pid: number,
  httpUrl: string,
  socketsPort: number,
  { everyMs = 250, timeoutMs = 30_000 } = {},
): PlatformMonitor {
  const healthMs: number[] = [];
  let unanswered = 0;
  let peakEvidenceCalls = 0;
  let peakRssBytes = 0;
  let last: Health | undefined;
  const inflight = new Set<Promise<void>>();
  const ask = () => {
    const t0 = performance.now();
    const req = fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) })
      .then(async (res) => {
        const body = (await res.json()) as Health;
        healthMs.push(performance.now() - t0);
        last = body;
        const e = body.components.compliance?.evidence;
        peakEvidenceCalls = Math.max(peakEvidenceCalls, e?.running ?? 0, e?.peakRunning ?? 0);
      })
      .catch(() => {
        unanswered++;
      })
      .finally(() => inflight.delete(req));
    inflight.add(req);
  };
  const readRss = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peakRssBytes = Math.max(peakRssBytes, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  };
  ask();
  const healthTimer = setInterval(ask, everyMs);
  const rssTimer = setInterval(readRss, 200);
  const sockets = sampleSockets(pid, socketsPort, 50);
  const stopAsking = async () => {
    clearInterval(healthTimer);
    await Promise.allSettled([...inflight]);
  };
  return {
    get last() {
      return last;
    },
    stopAsking,
    async stop() {
      await stopAsking();
      clearInterval(rssTimer);
      sockets.stop();
      return {
        healthMs,
        healthUnanswered: unanswered,
        peakSockets: sockets.peak,
        peakEvidenceCalls,
        peakRssBytes,
      };
    },
  };
}

/** Samples the 1-minute load average every 5 s: the start, the end and the highest seen. */
export function sampleLoad(): { stop(): { start: number; end: number; max: number } } {
  const start = loadavg()[0]!;
  let max = start;
  const timer = setInterval(() => {
    max = Math.max(max, loadavg()[0]!);
  }, 5_000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const end = loadavg()[0]!;
      return { start, end, max: Math.max(max, end) };
    },
  };
}

/** The p-th percentile (0-100) of the values, nearest rank; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
