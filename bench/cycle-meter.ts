import { performance } from 'node:perf_hooks';
import type { Fix } from '../core/fix.ts';

/**
 * The platform's rate and CPU per fix over whole intake cycles, for the burst benchmarks (e2e, jt808).
 *
 * Why. Their load is closed-loop: 1,000 connections with at most 8 unanswered messages each. The
 * platform reads the 8,000 messages, appends them, makes them durable with one fdatasync, judges them
 * and answers them all, and only then do the 8,000 next ones come: it runs in cycles of 8,000 fixes
 * (0.6 s on the quiet machine, 3-7 s at a load average of 20). A window of 5-6 s (--quick) holds a few
 * of them, and a count of answers in the window is a whole number of cycles more or less than the work
 * the window's CPU paid for: in a run at load 17, e2e counted 16,000 PUBACKs in its window while the
 * platform made 8,000 fixes durable in the interval its CPU was read over (74 µs "per message", 147 per
 * fix made durable), and jt808 counted no answer at all (all 8,000 came after its window). Such
 * counts gave jt808_cpu_ratio 0.66-1.5 and jt808_ratio 0.4-1.2 for the same code.
 *
 * How. The fixes of one fdatasync reach the ingest listeners in one burst (one macrotask: the promises
 * the flush resolves). The meter marks the start of each burst (time, this process's CPU, fixes
 * delivered so far) and measures from the first burst after start() to the last before stop(): whole
 * cycles only, the same phase of the cycle at both ends, whatever the cycles' length. The platform's
 * own count (fixes made durable and delivered), not the clients'.
 */
export interface CycleFigures {
  /** bursts measured between (cycles: one fewer) */
  bursts: number;
  /** fixes made durable and delivered over the whole cycles */
  fixes: number;
  seconds: number;
  fixesPerS: number;
  /** this process's CPU (user + system) per fix over the same cycles, µs */
  cpuUsPerFix: number;
}

interface Mark {
  t: number;
  cpuUs: number;
  delivered: number;
}

export class CycleMeter {
  private delivered = 0;
  private inBurst = false;
  private measuring = false;
  private first: Mark | undefined;
  private last: Mark | undefined;
  private bursts = 0;
  private readonly endBurst = () => {
    this.inBurst = false;
  };

  /** subscribe with the platform's ingest listeners (`core.onFixes(meter.onFixes)`), after its own */
  readonly onFixes = (fixes: readonly Fix[]): void => {
    if (!this.inBurst) {
      this.inBurst = true;
      setImmediate(this.endBurst);
      if (this.measuring) {
        const cpu = process.cpuUsage();
        const mark = { t: performance.now(), cpuUs: cpu.user + cpu.system, delivered: this.delivered };
        if (this.first === undefined) this.first = mark;
        this.last = mark;
        this.bursts++;
      }
    }
    this.delivered += fixes.length;
  };

  start(): void {
    this.measuring = true;
  }

  stop(): void {
    this.measuring = false;
  }

  /** undefined with fewer than two bursts in the window (no whole cycle) */
  figures(): CycleFigures | undefined {
    const a = this.first;
    const b = this.last;
    if (a === undefined || b === undefined || b.delivered === a.delivered) return undefined;
    const fixes = b.delivered - a.delivered;
    const seconds = (b.t - a.t) / 1000;
    return {
      bursts: this.bursts,
      fixes,
      seconds,
      fixesPerS: fixes / seconds,
      cpuUsPerFix: (b.cpuUs - a.cpuUs) / fixes,
    };
  }
}
