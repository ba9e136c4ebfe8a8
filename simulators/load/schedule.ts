/**
 * The load generator's rate control, pure: report slots spread evenly over time. Slot k is due at
 * start + k / rate and belongs to vehicle k mod n, so with rate = n / interval every vehicle reports once
 * per interval, the fleet's phases evenly staggered (a steady vehicles/interval msgs/s, no bursts).
 *
 * Counting slots from the start (not refilling a bucket) keeps the long-run rate exact whatever the
 * timer jitter. A generator that falls behind (event loop stalled, CPU saturated) catches up on at most
 * `maxLagS` of backlog; older slots are skipped and counted (`lagged`): the run reports it could not
 * keep the rate instead of silently sending a burst or less.
 */
export class SlotSchedule {
  private done = 0;
  private readonly maxLagSlots: number;

  constructor(
    private readonly ratePerS: number,
    private readonly startMs: number,
    maxLagS = 1,
  ) {
    if (!(ratePerS > 0)) throw new Error(`rate must be > 0, got ${ratePerS}`);
    this.maxLagSlots = Math.max(1, Math.ceil(ratePerS * maxLagS));
  }

  /** slots handed out or skipped so far */
  get slots(): number {
    return this.done;
  }

  /**
   * The slots due by `nowMs`: `take` of them to send now (at most `maxTake`, the rest stay due) and
   * `skipped`, beyond the lag bound, given up. Slot numbers run on: the first taken is `first`.
   */
  next(nowMs: number, maxTake: number): { first: number; take: number; skipped: number } {
    const due = Math.floor(((nowMs - this.startMs) / 1000) * this.ratePerS);
    let backlog = due - this.done;
    let skipped = 0;
    if (backlog > this.maxLagSlots) {
      skipped = backlog - this.maxLagSlots;
      this.done += skipped;
      backlog = this.maxLagSlots;
    }
    const first = this.done;
    const take = Math.max(0, Math.min(backlog, maxTake));
    this.done += take;
    return { first, take, skipped };
  }
}
