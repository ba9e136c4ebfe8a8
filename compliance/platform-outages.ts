import type { Outage, PlatformGap } from '../geofence/platform-gaps.ts';
import type { PlatformOutage } from './backfill-history.ts';

/** An outage as the API shows it (GET /platform/outages), with its first gaps. */
export interface PlatformOutageRecord {
  start: number;
  /** +Infinity while it lasts */
  end: number;
  cause: 'stopped' | 'behind';
  gaps: number;
  /** the first `limit` gaps, by vehicle */
  gapList: PlatformGap[];
}

/**
 * The platform's own outages (issue 10 item 6: the platform never charges a firm for its own downtime),
 * on the judgement clock, as the compliance shell learns of them:
 *  - stopped: from the instant of the last commit before a start (the platform was down, crashed or
 *    restarting) until the restart grace is over (devices need a moment to reconnect and backfill);
 *  - behind: while the intake lags its devices by more than the wall clock can hold back
 *    (compliance-clock.ts MAX_LAG_COMPENSATION_MS), from the lagging instant on, until it catches up.
 * The engine (geofence/platform-gaps.ts) voids the silence verdicts they overlap. They are kept for the
 * backfill horizon (a re-judging of that period needs them) and listed for operators
 * (GET /api/v1/platform/outages).
 */
export class PlatformOutages {
  private list: PlatformOutage[];
  private view: readonly Outage[];
  private changed = new Map<number, PlatformOutage>();

  constructor(restored: readonly PlatformOutage[]) {
    this.list = [...restored].sort((a, b) => a.start - b.start);
    this.view = Object.freeze([...this.list]);
  }

  /** the outages as the engine reads them (the same array until one changes) */
  current(): readonly Outage[] {
    return this.view;
  }

  all(): readonly PlatformOutage[] {
    return this.list;
  }

  /** The platform starts; it was down since `downSince` (its last commit before; NaN or undefined: unknown). */
  started(downSince: number | undefined): void {
    if (downSince === undefined || !Number.isFinite(downSince)) return;
    // an outage still open at the crash (the intake was behind) ended when the platform went down
    for (const o of this.list)
      if (o.end === Number.POSITIVE_INFINITY) this.put({ ...o, end: Math.max(o.start, downSince) });
    this.put({ start: downSince, end: Number.POSITIVE_INFINITY, cause: 'stopped' });
  }

  /** The restart grace is over: the stopped outage ends now. */
  resumed(now: number): void {
    for (const o of this.list) {
      if (o.cause === 'stopped' && o.end === Number.POSITIVE_INFINITY)
        this.put({ ...o, end: Math.max(o.start, now) });
    }
  }

  /**
   * The intake is behind (`since`: the fix time from which it has not caught up; undefined: it is not):
   * a behind outage opens from `since`, and ends at `now` once it has caught up.
   */
  observeLag(since: number | undefined, now: number): void {
    const open = this.list.find((o) => o.cause === 'behind' && o.end === Number.POSITIVE_INFINITY);
    if (since !== undefined) {
      if (open === undefined) this.put({ start: since, end: Number.POSITIVE_INFINITY, cause: 'behind' });
    } else if (open !== undefined) {
      this.put({ ...open, end: Math.max(open.start, now) });
    }
  }

  /** forgets outages that ended before `cutoff` (past the backfill horizon) */
  prune(cutoff: number): void {
    const kept = this.list.filter((o) => o.end >= cutoff);
    if (kept.length !== this.list.length) {
      this.list = kept;
      this.view = Object.freeze([...kept]);
    }
  }

  /** the outages opened or changed since the last call (to be saved) */
  takeChanged(): PlatformOutage[] {
    const out = [...this.changed.values()];
    this.changed.clear();
    return out;
  }

  /** a commit failed: save them again next time */
  notSaved(outages: readonly PlatformOutage[]): void {
    for (const o of outages) if (!this.changed.has(o.start)) this.changed.set(o.start, o);
  }

  private put(o: PlatformOutage): void {
    const i = this.list.findIndex((x) => x.start === o.start);
    if (i >= 0) this.list[i] = o;
    else {
      this.list.push(o);
      this.list.sort((a, b) => a.start - b.start);
    }
    this.view = Object.freeze([...this.list]);
    this.changed.set(o.start, o);
  }
}
