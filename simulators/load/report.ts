import { LatencyHistogram } from './histogram.ts';
import type { LoadPhase, LoadProgress, LoadSummary } from './options.ts';

/**
 * The load generator's numbers for people and for a supervising process, pure: one progress line, the
 * sum of several processes' progress and summaries, and the final table.
 */

const PHASES: readonly LoadPhase[] = ['ramp', 'warmup', 'measure', 'drain', 'done'];

/** Counters of one process's progress, cumulative (what a worker reports). */
export type ProgressCounters = Omit<LoadProgress, 'phase' | 'elapsedS' | 'sentPerS' | 'ackedPerS'> & {
  phase: LoadPhase;
};

/**
 * Adds up processes' latest progress. The phase is the least advanced one (the run is in its warm-up
 * until every process is); rates come from the change of the summed counters since `prev`.
 */
export function sumProgress(
  parts: readonly ProgressCounters[],
  prev: { sent: number; acked: number; t: number } | undefined,
  now: { elapsedS: number; t: number },
): LoadProgress {
  const sum = (f: (p: ProgressCounters) => number) => parts.reduce((n, p) => n + f(p), 0);
  const phase = parts.reduce<LoadPhase>(
    (least, p) => (PHASES.indexOf(p.phase) < PHASES.indexOf(least) ? p.phase : least),
    'done',
  );
  const sent = sum((p) => p.sent);
  const acked = sum((p) => p.acked);
  const dt = prev ? (now.t - prev.t) / 1000 : 0;
  const rates = parts.some((p) => p.targetRate === null) ? null : sum((p) => p.targetRate ?? 0);
  return {
    phase: parts.length === 0 ? 'ramp' : phase,
    elapsedS: now.elapsedS,
    connections: sum((p) => p.connections),
    connected: sum((p) => p.connected),
    sent,
    acked,
    sentPerS: prev && dt > 0 ? (sent - prev.sent) / dt : 0,
    ackedPerS: prev && dt > 0 ? (acked - prev.acked) / dt : 0,
    targetRate: rates,
    inflight: sum((p) => p.inflight),
    errors: sum((p) => p.errors),
    reconnects: sum((p) => p.reconnects),
    disconnects: sum((p) => p.disconnects),
    missed: sum((p) => p.missed),
    lagged: sum((p) => p.lagged),
  };
}

const k = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0));

/** One progress line (no newline). */
export function progressLine(p: LoadProgress): string {
  const target = p.targetRate === null ? '' : ` of ${k(p.targetRate)}/s`;
  return (
    `[load] ${p.elapsedS.toFixed(0).padStart(4)}s ${p.phase.padEnd(7)} conn ${p.connected}/${p.connections} ` +
    `sent ${p.sent} (${k(p.sentPerS)}/s${target}) acked ${p.acked} (${k(p.ackedPerS)}/s) ` +
    `inflight ${p.inflight} err ${p.errors} reconn ${p.reconnects} missed ${p.missed}` +
    (p.lagged > 0 ? ` lagged ${p.lagged}` : '')
  );
}

/**
 * One summary from the processes' summaries (same run, windows started together): counts add up,
 * rates add up (each over its own window, which differ by milliseconds), latencies merge exactly.
 */
export function mergeSummaries(
  parts: readonly LoadSummary[],
  histograms: readonly LatencyHistogram[],
): LoadSummary {
  const first = parts[0];
  if (first === undefined) throw new Error('no process summaries to merge');
  const sum = (f: (s: LoadSummary) => number) => parts.reduce((n, s) => n + f(s), 0);
  const max = (f: (s: LoadSummary) => number) => parts.reduce((n, s) => Math.max(n, f(s)), 0);
  const round = (v: number) => Math.round(v * 10) / 10;
  const hist = new LatencyHistogram();
  for (const h of histograms) hist.merge(h);
  const flatOut = parts.some((s) => s.targetRate === null);
  const connections = sum((s) => s.connections);
  const targetRate = flatOut ? null : sum((s) => s.targetRate ?? 0);
  return {
    url: first.url,
    qos: first.qos,
    connections,
    connected: sum((s) => s.connected),
    connectedAtEnd: sum((s) => s.connectedAtEnd),
    connectFailures: sum((s) => s.connectFailures),
    rampS: max((s) => s.rampS),
    rampComplete: parts.every((s) => s.rampComplete),
    warmupS: first.warmupS,
    windowS: Math.round((sum((s) => s.windowS) / parts.length) * 1000) / 1000,
    targetRate,
    intervalS:
      targetRate === null || targetRate === 0 ? null : Math.round((connections / targetRate) * 1000) / 1000,
    expected: flatOut ? null : sum((s) => s.expected ?? 0),
    processes: parts.length,
    window: first.window,
    payloadBytes: first.payloadBytes,
    sent: sum((s) => s.sent),
    acked: sum((s) => s.acked),
    windowSent: sum((s) => s.windowSent),
    windowAcked: sum((s) => s.windowAcked),
    sentPerS: round(sum((s) => s.sentPerS)),
    ackedPerS: round(sum((s) => s.ackedPerS)),
    latencyMs: first.qos === 1 ? hist.summary() : null,
    unacked: sum((s) => s.unacked),
    errors: sum((s) => s.errors),
    reconnects: sum((s) => s.reconnects),
    disconnects: sum((s) => s.disconnects),
    missed: sum((s) => s.missed),
    lagged: sum((s) => s.lagged),
    errorSamples: [...new Set(parts.flatMap((s) => s.errorSamples))].slice(0, 5),
  };
}

/** The final table for people: one row per process (when several) and the run's. */
export function summaryTable(total: LoadSummary, perProcess: readonly LoadSummary[] = []): string {
  const rows = perProcess.length > 1 ? perProcess.map((s, i) => [String(i + 1), s] as const) : [];
  const cells = (name: string, s: LoadSummary) => [
    name,
    String(s.connections),
    `${s.connected}/${s.connectedAtEnd}`,
    s.targetRate === null ? '-' : k(s.targetRate),
    String(s.sentPerS),
    s.qos === 1 ? String(s.ackedPerS) : '-',
    s.expected === null ? '-' : `${s.windowSent}/${s.expected}`,
    String(s.missed + s.lagged),
    String(s.errors),
    String(s.reconnects),
    s.latencyMs ? String(s.latencyMs.p50) : '-',
    s.latencyMs ? String(s.latencyMs.p99) : '-',
  ];
  const head = [
    'process',
    'vehicles',
    'conn start/end',
    'target/s',
    'sent/s',
    'acked/s',
    'sent/expected',
    'missed',
    'errors',
    'reconnects',
    'p50 ms',
    'p99 ms',
  ];
  const body = [...rows.map(([n, s]) => cells(n, s)), cells(rows.length > 0 ? 'all' : 'run', total)];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const title =
    `load: ${total.connections} vehicles in ${total.processes} process(es), QoS ${total.qos}, ` +
    `window ${total.windowS} s after ${total.rampS} s ramp${total.rampComplete ? '' : ' (cut short: no new connection for --ramp-idle)'} and ${total.warmupS} s warm-up` +
    (total.intervalS === null ? ', as fast as possible' : `, every vehicle every ${total.intervalS} s`);
  const lines = [title, line(head), rule, ...body.slice(0, -1).map(line)];
  if (rows.length > 0) lines.push(rule);
  lines.push(line(body[body.length - 1] ?? []));
  if (total.errorSamples.length > 0) lines.push(`errors: ${total.errorSamples.join('; ')}`);
  return lines.join('\n');
}

/** One process's counters over a run (runLoad's). */
export interface RunCounters {
  sent: number;
  acked: number;
  failed: number;
  windowSent: number;
  windowAcked: number;
  errors: number;
  reconnects: number;
  disconnects: number;
  connectFailures: number;
  missed: number;
  lagged: number;
  windowMissed: number;
  windowLagged: number;
}

/** What one process's run measured, as its summary. */
export interface RunFacts {
  url: string;
  qos: 0 | 1;
  connections: number;
  connectedAtWindow: number;
  connectedAtEnd: number;
  rampS: number;
  rampComplete: boolean;
  warmupMs: number;
  windowS: number;
  rate: number | null;
  window: number;
  payloadBytes: number;
  latency: LatencyHistogram;
  errorSamples: Iterable<string>;
}

/** Counters at the start of a run. */
export function newRunCounters(): RunCounters {
  return {
    sent: 0,
    acked: 0,
    failed: 0,
    windowSent: 0,
    windowAcked: 0,
    errors: 0,
    reconnects: 0,
    disconnects: 0,
    connectFailures: 0,
    missed: 0,
    lagged: 0,
    windowMissed: 0,
    windowLagged: 0,
  };
}

/** One process's summary of its run (of its last window, in a stepped run). */
export function summarizeRun(r: RunFacts, c: RunCounters): LoadSummary {
  const round = (v: number) => Math.round(v * 10) / 10;
  const { rate, windowS, qos } = r;
  return {
    url: r.url,
    qos,
    connections: r.connections,
    connected: r.connectedAtWindow,
    connectedAtEnd: r.connectedAtEnd,
    connectFailures: c.connectFailures,
    rampS: round(r.rampS),
    rampComplete: r.rampComplete,
    warmupS: r.warmupMs / 1000,
    windowS: Math.round(windowS * 1000) / 1000,
    targetRate: rate,
    intervalS: rate === null ? null : Math.round((r.connections / rate) * 1000) / 1000,
    expected: rate === null ? null : Math.round(rate * windowS),
    processes: 1,
    window: r.window,
    payloadBytes: r.payloadBytes,
    sent: c.sent,
    acked: c.acked,
    windowSent: c.windowSent,
    windowAcked: c.windowAcked,
    sentPerS: windowS > 0 ? round(c.windowSent / windowS) : 0,
    ackedPerS: windowS > 0 ? round(c.windowAcked / windowS) : 0,
    latencyMs: qos === 1 ? r.latency.summary() : null,
    unacked: qos === 1 ? c.sent - c.acked - c.failed : 0,
    errors: c.errors,
    reconnects: c.reconnects,
    disconnects: c.disconnects,
    missed: c.missed,
    lagged: c.lagged,
    errorSamples: [...r.errorSamples],
  };
}
