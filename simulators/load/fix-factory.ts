import { createRng } from '../shared/rng.ts';

/** Builds valid muck-truck fix payloads for one device: distinct, increasing ts; a slowly moving truck. */
export class FixFactory {
  private lastTs = 0;
  private lat: number;
  private lon: number;
  private dLat: number;
  private dLon: number;
  private readonly heading: number;
  private pad: string;
  private minimal: boolean;
  private n = 0;

  constructor(seed: number, payloadBytes?: number) {
    const rng = createRng(seed);
    this.lat = 31.82 + rng.range(-0.05, 0.05);
    this.lon = 117.23 + rng.range(-0.05, 0.05);
    this.heading = rng.int(0, 359);
    const step = 30 / 3.6 / 111_000; // about 30 km/h at one fix a second, in degrees
    this.dLat = step * Math.cos((this.heading * Math.PI) / 180);
    this.dLon = step * Math.sin((this.heading * Math.PI) / 180);
    this.minimal = false;
    this.pad = '';
    const natural = this.next(Date.now()).length;
    if (payloadBytes !== undefined && payloadBytes < natural) {
      this.minimal = true;
    } else if (payloadBytes !== undefined && payloadBytes > natural) {
      // Unknown keys are stripped by the schema, so a pad field keeps the payload valid.
      this.pad = `,"pad":"${'x'.repeat(Math.max(0, payloadBytes - natural - 9))}"`;
    }
    this.lastTs = 0;
    this.n = 0;
  }

  next(now: number): string {
    const ts = this.advance(now);
    const lat = this.lat.toFixed(6);
    const lon = this.lon.toFixed(6);
    if (this.minimal) return `{"ts":${ts},"lat":${lat},"lon":${lon},"speed":30}`;
    return (
      `{"ts":${ts},"lat":${lat},"lon":${lon},"speed":30.0,"heading":${this.heading},"alt":31.5,"sats":12,` +
      `"accuracy":6.5,"valid":true,"ign":true,"load":"full","weight":15.2,"cover":"closed","lift":"down",` +
      `"doors":"closed"${this.pad}}`
    );
  }

  /**
   * Moves the truck on by one report without writing its payload (next() is this and the payload);
   * returns the report's ts. With position(), the path a run of next() calls drives, at a fraction of
   * the cost (bench/e2e-world.ts builds each truck's permit around it).
   */
  advance(now: number): number {
    const ts = now > this.lastTs ? now : this.lastTs + 1;
    this.lastTs = ts;
    this.n++;
    if (this.n % 600 === 0) {
      // turn back now and then so the truck stays in town
      this.dLat = -this.dLat;
      this.dLon = -this.dLon;
    }
    this.lat += this.dLat;
    this.lon += this.dLon;
    return ts;
  }

  /** The position of the last report, [lon, lat], as its payload carries it (6 decimals). */
  position(): [number, number] {
    return [Number(this.lon.toFixed(6)), Number(this.lat.toFixed(6))];
  }
}
