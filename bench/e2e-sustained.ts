import { performance } from 'node:perf_hooks';
import type { LoadStep, LoadStepResult } from '../simulators/load/options.ts';
import type { TsChild } from './child.ts';
import type { E2ePlatform } from './e2e-platform.ts';
import { cpuSeconds } from './proc-stat.ts';
import type { BenchContext, Figure } from './types.ts';

/**
 * The platform end to end, sustained: what it takes for minutes with the spool bounded and InfluxDB
 * keeping pace, as opposed to the burst (e2e.ts), where intake runs ahead of the store into the spool.
 *
 * The same devices (1,000 connections, QoS 1, window 8) publish at a fixed offered rate (the load
 * generator's rate control: every vehicle in turn, evenly staggered), on the connections of the burst,
 * the trucks driving on (--steps-ipc; e2e.ts runs the generator, this class decides each next step). A
 * short search (bisection) looks for the highest rate that holds, each step measured
 * after a warm-up that is not counted and the spool drained between steps; then that rate is held for
 * the final window (3 minutes; --quick: 6 s, the same criteria). A window holds when
 *
 *   - the platform acknowledged what was offered: PUBACKs >= 98 % of the slots of the window, and at
 *     most 1 % of the slots missed (a device's window full: acknowledgements too slow) or given up (the
 *     generator behind);
 *   - InfluxDB kept pace: fixes stored during the window >= 97 % of those acknowledged, less two
 *     store batches (the pump writes 5,000 at a time, two in flight: a window may end either side of
 *     a write);
 *   - the spool depth stayed bounded: its trend over the window (least-squares slope of samples every
 *     500 ms) grows by no more than 2 % of the rate, so the backlog is not building up;
 *   - the spool never reached the point where acknowledgements are slowed (fill < 0.8): a rate bought
 *     with backpressure is not sustained.
 *
 * e2e_sustained_msgs_per_s is the PUBACK rate of the final window, counted at the publishers as
 * raw_broker_puback_msgs_per_s is, and e2e_sustained_ratio divides the one by the other.
 */

const ACK_SHARE = 0.98;
const MISSED_SHARE = 0.01;
const STORE_SHARE = 0.97;
const DEPTH_SLOPE_SHARE = 0.02;
/** two store batches of the default STORE_BATCH_SIZE: the granularity of the stored count */
const STORE_GRAIN = 2 * 5000;

interface Sample {
  t: number;
  depth: number;
  stored: number;
  fill: number;
}

interface WindowVerdict {
  rate: number;
  holds: boolean;
  acked: number;
  ackedPerS: number;
  storedPerS: number;
  /** fixes/s the spool depth grew by (least squares over the samples) */
  depthSlope: number;
  depthMax: number;
  depthLast: number;
  depthMean: number;
  maxFill: number;
  why: string[];
  result: LoadStepResult;
  windowS: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function slope(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const t0 = samples[0]!.t;
  let sx = 0;
  let sy = 0;
  for (const s of samples) {
    sx += (s.t - t0) / 1000;
    sy += s.depth;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    const dx = (s.t - t0) / 1000 - mx;
    num += dx * (s.depth - my);
    den += dx * dx;
  }
  return den > 0 ? num / den : 0;
}

function judge(rate: number, result: LoadStepResult, samples: readonly Sample[]): WindowVerdict {
  const windowS = result.windowS;
  const expected = result.expected ?? Math.round(rate * windowS);
  const first = samples[0];
  const last = samples.at(-1);
  const stored = first && last ? last.stored - first.stored : 0;
  const sampledS = first && last ? (last.t - first.t) / 1000 : windowS;
  const depthSlope = slope(samples);
  const depths = samples.map((s) => s.depth);
  const maxFill = Math.max(0, ...samples.map((s) => s.fill));
  const why: string[] = [];
  if (result.windowAcked < ACK_SHARE * expected)
    why.push(`acked ${result.windowAcked} < ${ACK_SHARE * 100} % of ${expected} offered`);
  if (result.windowMissed + result.windowLagged > MISSED_SHARE * expected)
    why.push(`${result.windowMissed} missed + ${result.windowLagged} lagged slots`);
  // stored and acked over the sampled span (both are counted in this process for the store)
  const ackedOverSampled = result.ackedPerS * sampledS;
  if (stored < STORE_SHARE * ackedOverSampled - STORE_GRAIN)
    why.push(`InfluxDB took ${stored} of ~${Math.round(ackedOverSampled)} acknowledged`);
  if (depthSlope > DEPTH_SLOPE_SHARE * rate)
    why.push(`spool depth growing ${Math.round(depthSlope)} fixes/s`);
  if (maxFill >= 0.8) why.push(`spool fill reached ${maxFill.toFixed(2)}: backpressure`);
  return {
    rate,
    holds: why.length === 0,
    acked: result.windowAcked,
    ackedPerS: result.ackedPerS,
    storedPerS: sampledS > 0 ? stored / sampledS : 0,
    depthSlope,
    depthMax: depths.length > 0 ? Math.max(...depths) : 0,
    depthLast: depths.at(-1) ?? 0,
    depthMean: depths.length > 0 ? depths.reduce((a, b) => a + b, 0) / depths.length : 0,
    maxFill,
    why,
    result,
    windowS,
  };
}

const round100 = (x: number) => Math.max(100, Math.round(x / 100) * 100);

export interface SearchStart {
  /** upper bound of the search: what the platform acknowledged flat out (the burst) */
  hi: number;
  /** first rate to try (e.g. InfluxDB's pace during the burst) */
  firstGuess: number;
  /** raw_broker_puback_msgs_per_s of this run, for the ratio */
  raw: number | undefined;
}

/**
 * The search as a controller of a stepped load generator: start() gives the first step, onEvent()
 * takes the generator's window events (the spool and the store are sampled every 500 ms in between),
 * onWindow() judges a window, waits for the spool to drain and gives the next step (or none after the
 * final window), figures() reports the final window.
 */
export class SustainedSearch {
  /** the load generator, for its CPU time */
  publishers: TsChild | undefined;
  private readonly searchSteps: number;
  private readonly searchWarmupS: number;
  private readonly searchWindowS: number;
  private readonly holdWarmupS: number;
  private readonly holdWindowS: number;
  private readonly retries: number;
  private lo = 0;
  private hi = 0;
  private current = 0;
  private raw: number | undefined;
  private stepsDone = 0;
  private holding = false;
  private retried = 0;
  private readonly verdicts: WindowVerdict[] = [];
  private samples: Sample[] = [];
  private sampling: NodeJS.Timeout | undefined;
  private cpuAtStart: { platform?: number; publishers?: number; influxd?: number } = {};
  private readonly cpu = { platform: 0, publishers: 0, influxd: 0 };
  private t0 = 0;

  constructor(
    private readonly ctx: BenchContext,
    private readonly e: E2ePlatform,
  ) {
    this.searchSteps = ctx.quick ? 2 : 4;
    // quick: a search step starts on connections already warm and a drained spool, at a set rate: its
    // pipeline is full within a second (the final window keeps the longer warm-up)
    this.searchWarmupS = ctx.quick ? 1 : 5;
    // quick: shorter windows (the same criteria), so the cluster benchmark fits in the 3 minutes too
    this.searchWindowS = ctx.quick ? 3 : 20;
    this.holdWarmupS = ctx.quick ? 2 : 10;
    this.holdWindowS = ctx.quick ? 6 : 180;
    this.retries = ctx.quick ? 0 : 1;
  }

  start(s: SearchStart): LoadStep {
    this.hi = s.hi;
    this.raw = s.raw;
    this.current = round100(Math.min(0.9 * s.hi, Math.max(s.firstGuess, 0.25 * s.hi)));
    this.t0 = performance.now();
    this.ctx.progress(
      `[e2e-sustained] search: ${this.searchSteps} steps of ${this.searchWindowS} s (after ${this.searchWarmupS} s warm-up) ` +
        `between 0 and ${s.hi} msg/s, first ${this.current}; then ${this.holdWindowS} s at the best`,
    );
    return { rate: this.current, warmupS: this.searchWarmupS, durationS: this.searchWindowS };
  }

  private take(): Sample {
    const p = this.e.platform;
    return {
      t: performance.now(),
      depth: p.spool.stats().depthRecords,
      stored: this.e.stored().fixes,
      fill: p.backpressure.stats().fill,
    };
  }

  onEvent(event: string): void {
    if (event === 'window_start') {
      this.samples = [this.take()];
      this.cpuAtStart = {
        platform: cpuSeconds(process.pid),
        publishers: cpuSeconds(this.publishers?.child.pid),
        influxd: cpuSeconds(this.e.influxPid),
      };
      let lastReport = performance.now();
      this.sampling = setInterval(() => {
        this.samples.push(this.take());
        if (this.holding && performance.now() - lastReport >= 10_000) {
          lastReport = performance.now();
          const s = this.samples.at(-1)!;
          this.ctx.progress(`[e2e-sustained] hold: spool depth ${s.depth} fixes, fill ${s.fill.toFixed(3)}`);
        }
      }, 500);
    }
    if (event === 'window_end') {
      clearInterval(this.sampling);
      this.samples.push(this.take());
      const d = (a: number | undefined, b: number | undefined) =>
        a !== undefined && b !== undefined ? b - a : 0;
      this.cpu.platform = d(this.cpuAtStart.platform, cpuSeconds(process.pid));
      this.cpu.publishers = d(this.cpuAtStart.publishers, cpuSeconds(this.publishers?.child.pid));
      this.cpu.influxd = d(this.cpuAtStart.influxd, cpuSeconds(this.e.influxPid));
    }
  }

  async onWindow(result: LoadStepResult): Promise<LoadStep | undefined> {
    clearInterval(this.sampling);
    const v = judge(this.current, result, this.samples);
    this.verdicts.push(v);
    this.ctx.progress(
      `[e2e-sustained] ${this.holding ? 'hold' : `step ${this.stepsDone + 1}`} at ${this.current} msg/s: ` +
        `${v.holds ? 'HOLDS' : `fails (${v.why.join('; ')})`}; acked ${Math.round(v.ackedPerS)}/s, ` +
        `stored ${Math.round(v.storedPerS)}/s, depth max ${v.depthMax} last ${v.depthLast} slope ${Math.round(v.depthSlope)}/s, ` +
        `p99 ${result.latencyMs?.p99 ?? '-'} ms`,
    );
    // the backlog of this step is the platform's to clear before the next is measured
    const p = this.e.platform;
    const drainDeadline = performance.now() + 90_000;
    while (p.spool.stats().depthRecords > 0 && performance.now() < drainDeadline) await sleep(100);
    if (this.holding) {
      if (v.holds || this.retried >= this.retries) return undefined;
      // the search's best did not hold for the long window: once more, 15 % lower
      this.retried++;
      this.current = round100(this.current * 0.85);
      return { rate: this.current, warmupS: this.holdWarmupS, durationS: this.holdWindowS };
    }
    this.stepsDone++;
    if (v.holds) this.lo = this.current;
    else this.hi = this.current;
    if (this.stepsDone < this.searchSteps) {
      this.current = round100((this.lo + this.hi) / 2);
      return { rate: this.current, warmupS: this.searchWarmupS, durationS: this.searchWindowS };
    }
    this.holding = true;
    // nothing held: hold at half the lowest rate tried, reported as not holding if it does not
    this.current = this.lo > 0 ? this.lo : round100(this.hi / 2);
    return { rate: this.current, warmupS: this.holdWarmupS, durationS: this.holdWindowS };
  }

  figures(): Figure[] {
    const { verdicts } = this;
    const final = verdicts.at(-1);
    if (final === undefined || !this.holding)
      throw new Error('the sustained run ended before its final window');
    this.ctx.progress(
      `[e2e-sustained] ${verdicts.length} windows in ${((performance.now() - this.t0) / 1000).toFixed(0)} s: ` +
        verdicts.map((v) => `${v.rate}${v.holds ? '+' : '-'}`).join(' '),
    );
    const l = final.result.latencyMs;
    const over = `over the ${final.windowS.toFixed(0)} s final window`;
    const figures: Figure[] = [
      {
        name: 'e2e_sustained_msgs_per_s',
        value: Math.round(final.ackedPerS),
        unit: 'msg/s',
        note:
          `PUBACKs at ${final.result.connected} QoS 1 devices ${over}, offered ${final.rate} msg/s ` +
          `(the search: ${verdicts.map((v) => `${v.rate}${v.holds ? ' held' : ' failed'}`).join(', ')}); ` +
          `${final.holds ? 'held' : `DID NOT HOLD: ${final.why.join('; ')}`}`,
      },
      {
        name: 'e2e_sustained_holds',
        value: final.holds ? 1 : 0,
        unit: 'bool',
        note: 'the final window met every criterion (acked, stored, spool depth, no backpressure)',
      },
      { name: 'e2e_sustained_window_s', value: Math.round(final.windowS), unit: 's' },
      {
        name: 'e2e_sustained_stored_per_s',
        value: Math.round(final.storedPerS),
        unit: 'fix/s',
        note: `fixes InfluxDB took ${over}`,
      },
      {
        name: 'e2e_sustained_spool_depth_max',
        value: final.depthMax,
        unit: 'fix',
        note: `spool depth sampled every 500 ms ${over}: mean ${Math.round(final.depthMean)}, trend ${Math.round(final.depthSlope)} fixes/s`,
      },
      {
        name: 'e2e_sustained_spool_depth_last',
        value: final.depthLast,
        unit: 'fix',
        note: 'at the end of the window',
      },
    ];
    if (l) {
      figures.push(
        { name: 'e2e_sustained_p50_ms', value: l.p50, unit: 'ms', note: 'publish -> PUBACK (durable)' },
        {
          name: 'e2e_sustained_p99_ms',
          value: l.p99,
          unit: 'ms',
          note: `publish -> PUBACK (durable) ${over}`,
        },
      );
    }
    if (this.raw !== undefined && this.raw > 0) {
      figures.push({
        name: 'e2e_sustained_ratio',
        value: Math.round((final.ackedPerS / this.raw) * 1000) / 1000,
        unit: 'ratio',
        note: `e2e_sustained_msgs_per_s / raw_broker_puback_msgs_per_s (${this.raw}) of this run (goal >= 0.5)`,
      });
    }
    const w = final.windowS;
    const perCore = (cpuS: number) => Math.round((cpuS / w) * 100) / 100;
    figures.push(
      {
        name: 'e2e_sustained_cpu_platform',
        value: perCore(this.cpu.platform),
        unit: 'cores',
        note: `CPU seconds per second of the platform process (bench process) ${over}`,
      },
      {
        name: 'e2e_sustained_cpu_influxd',
        value: perCore(this.cpu.influxd),
        unit: 'cores',
        note: `influxd ${over}`,
      },
      {
        name: 'e2e_sustained_cpu_publishers',
        value: perCore(this.cpu.publishers),
        unit: 'cores',
        note: `load generator ${over}`,
      },
    );
    return figures;
  }
}
