import type { Fix } from '../core/fix.ts';
import type { LatestFilter } from '../store/port.ts';

/**
 * Latest fix per unit, in memory, fed by ingest after each durable append and seeded from the store at
 * start. The API's "where is it now" reads come from here, so they never wait on InfluxDB.
 */
export class LatestPositions {
  private readonly byUnit = new Map<string, Fix>();

  seed(fixes: readonly Fix[]): void {
    for (const fix of fixes) this.offer(fix);
  }

  offer(fix: Fix): void {
    const current = this.byUnit.get(fix.vehicle);
    if (current === undefined || fix.ts > current.ts) this.byUnit.set(fix.vehicle, fix);
  }

  async latest(filter: LatestFilter = {}): Promise<Fix[]> {
    const wanted = filter.vehicles ? new Set(filter.vehicles) : undefined;
    const out: Fix[] = [];
    for (const fix of this.byUnit.values()) {
      if (filter.firm !== undefined && fix.firm !== filter.firm) continue;
      if (filter.kind !== undefined && fix.kind !== filter.kind) continue;
      if (wanted && !wanted.has(fix.vehicle)) continue;
      out.push(fix);
    }
    return out;
  }

  async latestOf(vehicle: string): Promise<Fix | undefined> {
    return this.byUnit.get(vehicle);
  }

  size(): number {
    return this.byUnit.size;
  }
}
