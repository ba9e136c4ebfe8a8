import type { SanitationFixPayload } from '../../ingest/payload.ts';
import type { Behaviour, FixBody } from '../motion/behaviour.ts';
import type { Rng } from '../shared/rng.ts';
import { bearingDeg, haversineM, type LatLon, offsetM, Polyline, roadRoute } from '../shared/tracks.ts';
import { MIN, round, type TwistTest, Walker } from './walker.ts';
import type { CollectionRole } from './world.ts';

/**
 * The collection truck of issue 15: it visits its collection points in their windows (walker.ts says how the plans' units behave and twist).
 */

interface Stop {
  pos: LatLon;
  target: number;
  skip: boolean;
}

export class CollectionRoundBehaviour implements Behaviour<SanitationFixPayload> {
  readonly kind = 'sanitation' as const;
  readonly track: Polyline;
  silent = false;
  private now: number;
  private pos: LatLon;
  private readonly stops: Stop[];
  private i = 0;
  private mode: 'wait' | 'drive' | 'collect' | 'done' = 'wait';
  private walker: Walker | undefined;
  /** the road to the next stop, drawn once */
  private path: Polyline | undefined;
  private collectUntil = 0;
  private nextLift = 0;
  private bins = 0;
  private heading = 0;
  private weightT = 0;

  constructor(
    private readonly rng: Rng,
    startTs: number,
    role: CollectionRole,
    twist: TwistTest,
  ) {
    this.now = startTs;
    this.stops = role.stops.map((s, k) => {
      const len = s.window.end - s.window.start;
      const late = twist('LATE_COLLECTION', k);
      return {
        pos: s.pos,
        target: late ? s.window.end + rng.range(6, 12) * MIN : s.window.start + rng.range(0.2, 0.4) * len,
        skip: twist('MISSED_COLLECTION', k),
      };
    });
    const first = this.stops[0]?.pos ?? { lat: 31.82, lon: 117.23 };
    this.pos = offsetM(first, -500, -300);
    const pts = [this.pos, ...this.stops.map((x) => x.pos)].filter(
      (p, k, a) => k === 0 || haversineM(p, a[k - 1]!) > 1,
    );
    this.track = new Polyline(pts.length >= 2 ? pts : [this.pos, first]);
  }

  step(dtMs: number): FixBody<SanitationFixPayload> {
    this.now += dtMs;
    let speed = 0;
    let task: 'idle' | 'collecting' = 'idle';
    if (this.mode === 'wait' && this.i < this.stops.length) {
      const stop = this.stops[this.i]!;
      this.path ??= this.pathTo(stop);
      const travelMs = (this.path.lengthM / (25 / 3.6)) * 1000;
      if (this.now >= stop.target - travelMs) {
        this.walker = new Walker(this.rng, this.path, 20, 30, false);
        this.path = undefined;
        this.mode = 'drive';
      }
    } else if (this.mode === 'wait') {
      this.mode = 'done';
    }
    if (this.mode === 'drive' && this.walker) {
      const arrived = this.walker.advance(dtMs);
      speed = this.walker.speedKmh;
      this.pos = this.walker.pos;
      this.heading = this.walker.heading;
      if (arrived) {
        const stop = this.stops[this.i];
        if (stop === undefined || stop.skip) {
          // drove past the point (a skipped stop) or back to the depot: the next stop, or done
          this.i++;
          this.mode = stop === undefined ? 'done' : 'wait';
        } else if (this.now >= stop.target - 30_000) {
          this.mode = 'collect';
          speed = 0;
          this.collectUntil = this.now + this.rng.range(2, 4) * MIN;
          this.nextLift = this.now + this.rng.range(15, 30) * 1000;
        } else {
          // early: parked at the point, not working, until its time
          this.mode = 'collect';
          speed = 0;
          this.collectUntil = -stop.target;
        }
      }
    } else if (this.mode === 'collect') {
      if (this.collectUntil < 0) {
        // waiting at the point for its time (idle: not a visit)
        if (this.now >= -this.collectUntil) {
          this.collectUntil = this.now + this.rng.range(2, 4) * MIN;
          this.nextLift = this.now + this.rng.range(15, 30) * 1000;
        }
      } else {
        task = 'collecting';
        if (this.now >= this.nextLift) {
          this.bins++;
          this.weightT = Math.min(8, this.weightT + 0.12);
          this.nextLift = this.now + this.rng.range(20, 35) * 1000;
        }
        if (this.now >= this.collectUntil) {
          this.i++;
          this.mode = 'wait';
          task = 'idle';
          if (this.i >= this.stops.length) {
            // back towards the depot, 400 m away from the last point
            this.walker = new Walker(
              this.rng,
              new Polyline([this.pos, offsetM(this.pos, 400, 0)]),
              20,
              30,
              false,
            );
            this.mode = 'drive';
          }
        }
      }
    }
    return {
      lat: this.pos.lat,
      lon: this.pos.lon,
      speed: round(speed, 1),
      heading: this.heading,
      ign: true,
      task,
      brush: false,
      binLifts: this.bins,
      weight: round(this.weightT, 2),
    };
  }

  /** The road to the stop; through a skipped one without stopping, and on 300 m past it. */
  private pathTo(stop: Stop): Polyline {
    const direct = haversineM(this.pos, stop.pos) > 30 ? roadRoute(this.rng, this.pos, stop.pos) : undefined;
    const pts = direct ? [...direct.points] : [this.pos, stop.pos];
    if (stop.skip) {
      const h = bearingDeg(pts.at(-2)!, stop.pos);
      pts.push(offsetM(stop.pos, 300 * Math.sin((h * Math.PI) / 180), 300 * Math.cos((h * Math.PI) / 180)));
    }
    return new Polyline(pts);
  }
}
