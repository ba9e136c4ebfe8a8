import type { FixPayload } from '../../ingest/payload.ts';
import type { Behaviour } from '../motion/behaviour.ts';
import { CycleTruckBehaviour } from '../motion/truck-cycle.ts';
import type { FaultType } from '../scenario/injection-types.ts';
import { centroidOf, inAnyPolygon, type PolygonCoords, towards } from '../shared/geo.ts';
import type { Rng } from '../shared/rng.ts';
import { haversineM, type LatLon, offsetM } from '../shared/tracks.ts';

/**
 * What a simulated terminal reports of the true track (scenario/fleet-sim.ts): GNSS error, drift, an
 * urban-canyon bias, a multipath jump, a flickering load sensor, a weight glitch (scenario/injection-types.ts
 * FAULT_TYPES), and the malformed payloads. Laid over what the terminal REPORTS, never over the truth.
 */

/** A device's terminal: its random streams and the faults under way. */
export interface TerminalState {
  behaviour: Behaviour<FixPayload>;
  faults: Rng;
  noise: Rng;
  /** draws of the sensor and GNSS faults (their own stream: a run without them draws nothing here) */
  sensor: Rng;
  intervalMs: number;
  drift?: Drift;
  /** the load state reads the opposite until then (FLICKER) */
  flickerUntil: number;
  canyon?: { leftMs: number; east: number; north: number; accuracy: number };
  /** instant of the last fix sent live and in order (-1 none), and whether it was a multipath fix */
  lastSentTs: number;
  lastMultipath: boolean;
}

export interface Drift {
  leftMs: number;
  totalMs: number;
  peakM: number;
  angle: number;
}

/** A restricted zone as the multipath fault aims at it. */
interface FaultZone {
  kind: string;
  polygons: PolygonCoords[];
  appliesTo?: readonly string[];
}

/** Fault counters kept by the simulator (its stats). */
export interface FaultCounts {
  flicker: number;
  weightGlitch: number;
  multipath: number;
  canyon: number;
}

/** A clock running ahead (CLOCK_SKEW): the 90 s of issue 17. */
export const CLOCK_SKEW_MS = 90_000;
/** Multipath fixes need at least this speed from both neighbours (issue 17: ~200 km/h). */
const MULTIPATH_KMH = 200;

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** A deliberately broken payload: bad JSON, a wrong type, a position off the globe (seeded choice). */
export function malformed(rng: Rng, ts: number): string {
  switch (rng.int(0, 3)) {
    case 0:
      return `{"ts":${ts},"lat":31.8,"lon":117.2,"speed":`;
    case 1:
      return JSON.stringify({ ts, lat: 31.8, lon: 117.2, speed: 'fast' });
    case 2:
      return JSON.stringify({ ts, lat: 131.8, lon: 117.2, speed: 20 });
    default:
      return 'not json at all';
  }
}

export class TerminalFaults<Z extends FaultZone> {
  constructor(
    private readonly rates: Record<FaultType, number>,
    private readonly noiseM: number,
    private readonly driftM: number,
    private readonly counts: FaultCounts,
    private readonly zones: readonly Z[],
    private readonly zoneOpen: (z: Z, ts: number) => boolean,
  ) {}

  /**
   * What the terminal reports: the true position plus GNSS error, drift, canyon bias or a multipath
   * jump, and the sensor readings with their faults (flicker, weight glitch).
   */
  observe(
    d: TerminalState,
    body: { lat: number; lon: number; speed?: unknown; load?: unknown; weight?: unknown },
    ts: number,
  ): { lat: number; lon: number; accuracy?: number; load?: string; weight?: number } {
    const r = d.noise;
    let east = r.normal(0, this.noiseM);
    let north = r.normal(0, this.noiseM);
    if (d.drift === undefined && this.rates.DRIFT > 0 && d.faults.chance(this.rates.DRIFT)) {
      const totalMs = r.range(60_000, 180_000);
      d.drift = {
        leftMs: totalMs,
        totalMs,
        peakM: r.range(0.5, 1) * this.driftM,
        angle: r.range(0, 2 * Math.PI),
      };
    }
    if (d.drift) {
      // rises and falls back (multipath near tall buildings): a half sine over the episode
      const m = d.drift.peakM * Math.sin((Math.PI * (d.drift.totalMs - d.drift.leftMs)) / d.drift.totalMs);
      east += m * Math.cos(d.drift.angle);
      north += m * Math.sin(d.drift.angle);
      d.drift.leftMs -= d.intervalMs;
      if (d.drift.leftMs <= 0) d.drift = undefined;
    }
    let accuracy = this.noiseM > 0 ? Math.round(this.noiseM * r.range(0.8, 1.3) * 10) / 10 : undefined;
    const f = d.sensor;
    // urban canyon: a steady bias while it lasts, and the terminal knows its fix is worse (accuracy up)
    if (d.canyon === undefined && this.rates.CANYON > 0 && f.chance(this.rates.CANYON)) {
      const biasM = f.range(20, 40);
      const angle = f.range(0, 2 * Math.PI);
      d.canyon = {
        leftMs: f.range(60_000, 180_000),
        east: biasM * Math.cos(angle),
        north: biasM * Math.sin(angle),
        accuracy: Math.round(0.8 * biasM + (accuracy ?? 0)),
      };
      this.counts.canyon++;
    }
    if (d.canyon) {
      east += d.canyon.east;
      north += d.canyon.north;
      accuracy = Math.max(accuracy ?? 0, d.canyon.accuracy);
      d.canyon.leftMs -= d.intervalMs;
      if (d.canyon.leftMs <= 0) d.canyon = undefined;
    }
    let p = offsetM(body, east, north);
    const truck = d.behaviour instanceof CycleTruckBehaviour ? d.behaviour : undefined;
    const driving = truck !== undefined && truck.currentLeg.type === 'drive' && truck.remainingM > 600;
    const speed = Number(body.speed ?? 0);
    // multipath: one fix far off, a live fix just before it (its two neighbours show it is a stray)
    let multipath = false;
    if (
      this.rates.MULTIPATH > 0 &&
      speed > 10 &&
      !d.lastMultipath &&
      d.lastSentTs >= 0 &&
      ts - d.lastSentTs <= 1.5 * d.intervalMs &&
      f.chance(this.rates.MULTIPATH)
    ) {
      const dtS = Math.max(ts - d.lastSentTs, d.intervalMs) / 1000;
      // far enough that both neighbours need >= 200 km/h, the truck's own travel and noise allowed for
      const minM = (MULTIPATH_KMH / 3.6 + 14) * dtS + 100;
      const angle = f.range(0, 2 * Math.PI);
      p =
        this.multipathTarget(body, minM, ts) ?? offsetM(body, minM * Math.cos(angle), minM * Math.sin(angle));
      multipath = true;
      this.counts.multipath++;
    }
    d.lastMultipath = multipath;
    const out: { lat: number; lon: number; accuracy?: number; load?: string; weight?: number } = {
      lat: round6(p.lat),
      lon: round6(p.lon),
    };
    if (accuracy !== undefined) out.accuracy = accuracy;
    if (truck !== undefined) {
      // a load sensor flickering to the opposite reading for 20-30 s while the truck drives
      if (
        d.flickerUntil < ts - 120_000 &&
        driving &&
        speed > 10 &&
        this.rates.FLICKER > 0 &&
        f.chance(this.rates.FLICKER)
      ) {
        d.flickerUntil = ts + f.range(20_000, 30_000);
        this.counts.flicker++;
      }
      if (ts < d.flickerUntil) out.load = body.load === 'empty' ? 'full' : 'empty';
      // one weight reading at a tenth of the truth (24 t -> 2.4 t)
      const w = Number(body.weight ?? 0);
      if (
        driving &&
        speed > 10 &&
        w > 5 &&
        this.rates.WEIGHT_GLITCH > 0 &&
        f.chance(this.rates.WEIGHT_GLITCH)
      ) {
        out.weight = Math.round(w * 10) / 100;
        this.counts.weightGlitch++;
      }
    }
    return out;
  }

  /** A point 100 m inside a restricted zone closed to muck trucks now, at least `minM` away, if in reach. */
  private multipathTarget(from: LatLon, minM: number, ts: number): LatLon | undefined {
    for (const z of this.zones) {
      if (z.kind !== 'restricted' || !(z.appliesTo ?? ['muck_truck']).includes('muck_truck')) continue;
      if (!this.zoneOpen(z, ts)) continue;
      const c = centroidOf(z.polygons);
      const dist = haversineM(from, c);
      if (dist < minM || dist > minM + 800) continue;
      let entry = -1;
      for (let m = 0; m <= dist; m += 10) {
        if (inAnyPolygon(z.polygons, towards(from, c, m))) {
          entry = m;
          break;
        }
      }
      if (entry < 0) continue;
      const at = Math.min(dist, entry + 100);
      if (at >= minM) return towards(from, c, at);
    }
    return undefined;
  }
}
