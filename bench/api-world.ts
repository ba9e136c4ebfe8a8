import type { Fix } from '../core/fix.ts';
import { SqliteApiKeys } from '../registry/api-keys.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import { InfluxStore } from '../store/influx/adapter.ts';

/**
 * The API benchmark's data (bench/api.ts): 10 firms of 1,000 muck trucks in the registry with two API
 * keys, one recent fix for every truck and 24 h at 10 s for the queried one, written to InfluxDB through
 * the store's write path.
 */

export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
export const FIRMS = 10;
export const VEHICLES = 10_000;
export const PER_FIRM = VEHICLES / FIRMS;
const TRACK_STEP_MS = 10_000;
export const TRACK_FIXES = 8_640; // 24 h at 10 s
export const DATABASE = 'bench';

const vehicleId = (i: number) => `bench-veh-${String(i + 1).padStart(5, '0')}`;
const firmId = (f: number) => `bench-firm-${String(f + 1).padStart(2, '0')}`;
const firmOf = (i: number) => firmId(Math.floor(i / PER_FIRM));
/** the truck whose track is queried (firm 01) */
export const QUERIED = vehicleId(0);

// ---- the data ----

/** A plausible muck-truck fix of vehicle i at ts (Hefei, moving). */
function fixOf(i: number, ts: number, k: number): Fix {
  return {
    vehicle: vehicleId(i),
    device: `bench-dev-${String(i + 1).padStart(5, '0')}`,
    kind: 'muck_truck',
    firm: firmOf(i),
    ts,
    received: ts + 800,
    lat: 31.7 + ((i * 37) % 1000) / 5000 + Math.sin(k / 200) / 100,
    lon: 117.1 + ((i * 53) % 1000) / 5000 + Math.cos(k / 200) / 100,
    speed: 20 + (k % 40),
    heading: (k * 7) % 360,
    alt: 30,
    sats: 12,
    accuracy: 3.5,
    valid: true,
    crsIn: 'WGS84',
    late: false,
    ign: true,
    load: k % 3 === 0 ? 'empty' : 'full',
    weight: k % 3 === 0 ? 0.4 : 17.2,
    cover: 'closed',
    lift: 'down',
    doors: 'closed',
  };
}

export async function seedInflux(url: string, now: number): Promise<{ fixes: number; ms: number }> {
  const store = new InfluxStore({ version: 1, url, database: DATABASE });
  await store.open();
  const t0 = performance.now();
  const batch = 5000; // the platform's STORE_BATCH_SIZE default
  let written = 0;
  let buf: Fix[] = [];
  const flush = async () => {
    if (buf.length === 0) return;
    await store.writeFixes(buf);
    written += buf.length;
    buf = [];
  };
  // the queried truck: 8,640 fixes, the last one 5 s ago
  const trackEnd = now - 5_000;
  for (let k = 0; k < TRACK_FIXES; k++) {
    buf.push(fixOf(0, trackEnd - (TRACK_FIXES - 1 - k) * TRACK_STEP_MS, k));
    if (buf.length >= batch) await flush();
  }
  // every other truck: one fix within the last minute
  for (let i = 1; i < VEHICLES; i++) {
    buf.push(fixOf(i, now - 60_000 + ((i * 7919) % 55_000), i));
    if (buf.length >= batch) await flush();
  }
  await flush();
  const stored = await store.count(QUERIED, trackEnd - 86_400_000 + 1, trackEnd);
  await store.close();
  if (stored !== TRACK_FIXES)
    throw new Error(`InfluxDB holds ${stored} fixes of ${QUERIED}, not ${TRACK_FIXES}`);
  return { fixes: written, ms: performance.now() - t0 };
}

export function provision(dir: string): { firmKey: string; monitorKey: string; ms: number } {
  const t0 = performance.now();
  const registry = new SqliteRegistry({ dir });
  try {
    for (let f = 0; f < FIRMS; f++) registry.upsertFirm({ id: firmId(f), name: `Bench Transport ${f + 1}` });
    // one transaction (one fsync) for the fleet, not one per truck
    registry.importVehicles(
      Array.from({ length: VEHICLES }, (_, i) => ({
        id: vehicleId(i),
        plate: `皖A·${String(i).padStart(5, '0')}`,
        kind: 'muck_truck' as const,
        firm: firmOf(i),
        ratedLoadT: 18,
      })),
    );
  } finally {
    registry.close();
  }
  const keys = new SqliteApiKeys({ dir });
  try {
    const firmKey = keys.create({ name: 'bench firm 01', role: 'firm', firm: firmId(0), createdBy: 'bench' });
    const monitorKey = keys.create({ name: 'bench monitor', role: 'monitor', createdBy: 'bench' });
    return { firmKey: firmKey.secret, monitorKey: monitorKey.secret, ms: performance.now() - t0 };
  } finally {
    keys.close();
  }
}
