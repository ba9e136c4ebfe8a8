/**
 * One log line per interval for a stream of like events (refused connections, failed appends): the
 * first event after a quiet interval is reported at once, the ones after it are counted and reported
 * together by the next line. A storm of 20,000 refusals is then a handful of lines, each saying how many
 * it stands for; the metrics keep the exact totals.
 */
export class LogThrottle {
  private lastLineAt = Number.NEGATIVE_INFINITY;
  private unreported = 0;

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one event. Returns how many events a line written now stands for, or 0: stay quiet. */
  hit(): number {
    this.unreported++;
    const t = this.now();
    if (t - this.lastLineAt < this.intervalMs) return 0;
    this.lastLineAt = t;
    const n = this.unreported;
    this.unreported = 0;
    return n;
  }

  /** Events not reported by a line yet (for a closing summary). */
  pending(): number {
    return this.unreported;
  }
}
