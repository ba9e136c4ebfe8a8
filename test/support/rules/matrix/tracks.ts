/**
 * Noiseless tracks on the rule-matrix map (world.ts): one fix at a place and instant (`fixAt`), a track
 * builder that stays, drives and rolls (`Trk`), and loading and tipping at a site.
 */
import type { Fix } from '../../../../core/fix.ts';
import { pt } from './world.ts';

export type Sensors = Partial<
  Pick<Fix, 'load' | 'weight' | 'cover' | 'lift' | 'valid' | 'ign' | 'accuracy' | 'speed' | 'kind' | 'firm'>
>;

export const EMPTY: Sensors = { load: 'empty', weight: 0.4, cover: 'closed', lift: 'down' };
export const FULL: Sensors = { load: 'full', weight: 28, cover: 'closed', lift: 'down' };

const FIRMS: Record<string, string> = { V1: 'F1', V2: 'F1', V3: 'F1', S1: 'F1', C1: 'F1' };

export function fixAt(vehicle: string, ts: number, x: number, y: number, s: Sensors = {}): Fix {
  const [lon, lat] = pt(x, y);
  return {
    vehicle,
    device: `dev-${vehicle}`,
    kind: 'muck_truck',
    firm: FIRMS[vehicle] ?? 'F1',
    ts,
    received: ts + 500,
    lat,
    lon,
    speed: 30,
    heading: 90,
    accuracy: 8,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    ...s,
  };
}

/**
 * A noiseless track builder: the current time, place and sensor state; every call appends fixes at exact
 * instants (noise and jitter are applied afterwards with `withNoise` / `withJitter`).
 */
export class Trk {
  readonly fixes: Fix[] = [];
  constructor(
    readonly vehicle: string,
    public t: number,
    public x: number,
    public y: number,
    public st: Sensors = {},
  ) {}

  /** advance `dt` and report one fix at (x, y) (default: where the truck is) with speed `kmh` */
  fix(dt: number, kmh: number, p: Sensors & { x?: number; y?: number } = {}): this {
    const { x, y, ...sensors } = p;
    this.t += dt;
    if (x !== undefined) this.x = x;
    if (y !== undefined) this.y = y;
    this.st = { ...this.st, ...sensors };
    this.fixes.push(fixAt(this.vehicle, this.t, this.x, this.y, { ...this.st, speed: kmh }));
    return this;
  }

  /** parked for `ms`, a fix every `every` ms (the first one `every` after now) */
  stay(ms: number, every = 10_000, each?: (i: number, n: number) => Sensors): this {
    const n = Math.round(ms / every);
    for (let i = 1; i <= n; i++) this.fix(every, 0, each?.(i, n) ?? {});
    return this;
  }

  /** drives straight to (x, y) at about `kmh`, one fix every `every` ms, the last one exactly there */
  drive(x: number, y: number, kmh: number, every = 10_000, each?: (i: number, n: number) => Sensors): this {
    const x0 = this.x;
    const y0 = this.y;
    const stepM = ((kmh / 3.6) * every) / 1000;
    const n = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / stepM - 1e-9));
    for (let i = 1; i <= n; i++) {
      this.fix(every, kmh, {
        x: x0 + ((x - x0) * i) / n,
        y: y0 + ((y - y0) * i) / n,
        ...(each?.(i, n) ?? {}),
      });
    }
    return this;
  }

  /** `n` fixes `every` ms apart while rolling east (x grows) at `kmh` */
  roll(n: number, kmh: number, every = 10_000, each?: (i: number) => Sensors): this {
    for (let i = 1; i <= n; i++) {
      this.fix(every, kmh, { x: this.x + ((kmh / 3.6) * every) / 1000, ...(each?.(i) ?? {}) });
    }
    return this;
  }
}

/** empty at the origin for 1 min, loaded over 5 min (0.4 t -> 28 t, empty -> half -> full), 30 s more */
export function loadAt(tr: Trk): Trk {
  tr.stay(60_000);
  tr.stay(300_000, 10_000, (i, n) => ({
    weight: Math.round((0.4 + (27.6 * i) / n) * 100) / 100,
    load: i < 3 ? 'empty' : i < n / 2 ? 'half' : 'full',
  }));
  tr.st = { ...tr.st, weight: 28, load: 'full' };
  return tr.stay(30_000);
}

/** tipping in place: lift up, weight down to 0.5 t over 1 min, load empty, lift down */
export function tip(tr: Trk): Trk {
  tr.fix(10_000, 0, { lift: 'up' });
  tr.stay(60_000, 10_000, (i, n) => ({ weight: Math.round((28 - (27.5 * i) / n) * 100) / 100 }));
  tr.fix(10_000, 0, { load: 'empty', weight: 0.5 });
  return tr.fix(10_000, 0, { lift: 'down' });
}
