import { payloadToLocation } from '../shared/jt808-fix.ts';
import { Jt808Terminal } from '../shared/jt808-terminal.ts';
import { FixFactory } from './fix-factory.ts';
import { LatencyHistogram } from './histogram.ts';
import type { LoadSummary } from './options.ts';

/**
 * Load over JT/T 808: N terminal connections (one per vehicle), each authenticated (0x0102) and then
 * reporting 0x0200 locations, as fast as `window` unanswered reports per connection allow, or every
 * `intervalS` each (the fleet's report times staggered). A report counts as acknowledged when the
 * platform's 0x8001 for it arrives, which the gateway sends only once the fix is durable. Connections
 * open `rampBatch` at a time; a warm-up, then the measured window.
 *
 * Fixes: vehicle i drives the MQTT generator's truck i (run.ts FixFactory, seeded alike: the same line,
 * speed, load and states), reported as the shipped model's terminal does (shared/jt808-fix.ts), so the
 * benchmark's permits (bench/e2e-world.ts) fit either transport.
 *
 * Timestamps: a terminal's times are whole seconds (BCD), and two fixes of one device with the same
 * time are one fix to ingest (a duplicate, never stored twice). Each vehicle's reports therefore carry
 * times one second apart, from two hours ago on, so every report is a new fix however fast they go
 * (and never one in the future, which ingest refuses past 5 minutes). A platform judging silence by the
 * wall clock reads such a fleet as two hours behind: judge it on COMPLIANCE_CLOCK=fleet.
 */

export interface Jt808LoadOptions {
  host: string;
  port: number;
  connections: number;
  /** the terminal phone of vehicle i (0-based) */
  phoneOf: (i: number) => string;
  /** its authentication code (the device secret) */
  codeOf: (i: number) => string;
  /** measured window, s (default 10) */
  durationS?: number;
  /** default 2 */
  warmupS?: number;
  /** report interval per vehicle, s; unset: as fast as the window allows */
  intervalS?: number;
  /** unanswered reports per connection (default 8) */
  window?: number;
  /** connections opened at a time (default 50) */
  rampBatch?: number;
  /** wait for answers after the window, ms (default 5000) */
  drainMs?: number;
  latency?: LatencyHistogram;
  onEvent?: (event: 'ramp_done' | 'window_start' | 'window_end') => void;
  onProgress?: (p: { connected: number; sent: number; acked: number }) => void;
  signal?: AbortSignal;
  seed?: number;
}

/**
 * The MQTT load summary's figures that mean the same over JT/T 808 (load/options.ts), with the 808
 * meanings: latencyMs is 0x0200 -> 0x8001 of the reports sent in the window, unacked the reports never
 * answered by the end of the drain, missed the report times lost to a full window (interval runs).
 */
export interface Jt808LoadSummary
  extends Pick<
    LoadSummary,
    | 'connections'
    | 'connected'
    | 'connectFailures'
    | 'rampS'
    | 'warmupS'
    | 'windowS'
    | 'window'
    | 'intervalS'
    | 'sent'
    | 'acked'
    | 'windowSent'
    | 'windowAcked'
    | 'sentPerS'
    | 'ackedPerS'
    | 'latencyMs'
    | 'unacked'
    | 'errors'
    | 'missed'
  > {
  transport: 'jt808';
  /** answers other than 0 (success) */
  refused: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runJt808Load(o: Jt808LoadOptions): Promise<Jt808LoadSummary> {
  const window = o.window ?? 8;
  const durationS = o.durationS ?? 10;
  const warmupS = o.warmupS ?? 2;
  const latency = o.latency ?? new LatencyHistogram();
  const terminals: (Jt808Terminal | undefined)[] = new Array(o.connections);
  const counts = {
    sent: 0,
    acked: 0,
    windowSent: 0,
    windowAcked: 0,
    refused: 0,
    errors: 0,
    missed: 0,
    inflight: 0,
  };
  let connectFailures = 0;
  let measuring = false;
  let stopped = false;
  const t0 = performance.now();

  // ---- ramp
  let next = 0;
  const lane = async () => {
    while (next < o.connections && !o.signal?.aborted) {
      const i = next++;
      const term = new Jt808Terminal({
        host: o.host,
        port: o.port,
        phone: o.phoneOf(i),
        replyTimeoutMs: 30_000,
      });
      try {
        await term.connect();
        if ((await term.authenticate(o.codeOf(i))) !== 0) throw new Error('authentication refused');
        terminals[i] = term;
      } catch {
        term.destroy();
        connectFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.rampBatch ?? 50, o.connections) }, lane));
  const rampS = (performance.now() - t0) / 1000;
  o.onEvent?.('ramp_done');

  // ---- reporting
  const baseTs = Math.floor(Date.now() / 1000) * 1000 - 2 * 3_600_000;
  const seed = o.seed ?? 1;
  const state = terminals.map((_, i) => ({
    n: 0,
    inflight: 0,
    // the MQTT load generator's truck i (run.ts, seeded alike): the same line, so the permits that
    // bench/e2e-world.ts builds around it for the benchmark fit these trucks as well
    fixes: new FixFactory(seed * 100_003 + i),
    i,
  }));
  const report = (k: (typeof state)[number]) => {
    const term = terminals[k.i];
    if (term === undefined || !term.connected) return false;
    // the MQTT generator's fix as the shipped model's terminal reports it (shared/jt808-fix.ts): everything
    // 808 can carry, at one second per report
    const loc = payloadToLocation(JSON.parse(k.fixes.next(baseTs + k.n * 1000)) as Record<string, unknown>);
    k.n++;
    k.inflight++;
    counts.inflight++;
    counts.sent++;
    const inWindow = measuring;
    if (inWindow) counts.windowSent++;
    const sentAt = performance.now();
    term.report(loc).then(
      (result) => {
        k.inflight--;
        counts.inflight--;
        counts.acked++;
        if (result !== 0) counts.refused++;
        if (measuring) counts.windowAcked++;
        if (inWindow) latency.recordMs(performance.now() - sentAt);
        if (o.intervalS === undefined && !stopped) report(k);
      },
      () => {
        k.inflight--;
        counts.inflight--;
        counts.errors++;
        if (o.intervalS === undefined && !stopped) report(k);
      },
    );
    return true;
  };

  let timers: NodeJS.Timeout[] = [];
  if (o.intervalS === undefined) {
    for (const k of state) for (let w = 0; w < window; w++) report(k);
  } else {
    const periodMs = o.intervalS * 1000;
    for (const k of state) {
      const start = setTimeout(
        () => {
          const tick = () => {
            if (k.inflight >= window || !report(k)) counts.missed++;
          };
          tick();
          timers.push(setInterval(tick, periodMs));
        },
        Math.floor((k.i / state.length) * periodMs),
      );
      timers.push(start);
    }
  }
  const progress = setInterval(
    () =>
      o.onProgress?.({
        connected: terminals.filter((t) => t?.connected).length,
        sent: counts.sent,
        acked: counts.acked,
      }),
    1000,
  );
  try {
    await sleep(warmupS * 1000);
    measuring = true;
    o.onEvent?.('window_start');
    const w0 = performance.now();
    await sleep(durationS * 1000);
    measuring = false;
    const windowS = (performance.now() - w0) / 1000;
    o.onEvent?.('window_end');
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers = [];
    const drainEnd = performance.now() + (o.drainMs ?? 5000);
    while (counts.inflight > 0 && performance.now() < drainEnd) await sleep(20);
    const connected = terminals.filter((t) => t?.connected).length;
    return {
      transport: 'jt808',
      connections: o.connections,
      connected,
      connectFailures,
      rampS: Math.round(rampS * 100) / 100,
      warmupS,
      windowS: Math.round(windowS * 100) / 100,
      window,
      intervalS: o.intervalS ?? null,
      sent: counts.sent,
      acked: counts.acked,
      windowSent: counts.windowSent,
      windowAcked: counts.windowAcked,
      sentPerS: Math.round(counts.windowSent / windowS),
      ackedPerS: Math.round(counts.windowAcked / windowS),
      latencyMs: latency.count > 0 ? latency.summary() : null,
      refused: counts.refused,
      unacked: counts.inflight,
      errors: counts.errors,
      missed: counts.missed,
    };
  } finally {
    stopped = true;
    clearInterval(progress);
    for (const t of timers) clearTimeout(t);
    for (const t of terminals) t?.destroy();
  }
}

/** The terminal phone of the load fleet's vehicle n (1-based, as in its ids load-00001...): 19 and nine digits. */
export function loadPhone(n: number): string {
  return `19${String(n).padStart(9, '0')}`;
}
