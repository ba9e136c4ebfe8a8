import { randomBytes, scryptSync } from 'node:crypto';
import path from 'node:path';
import { SqliteRegistry } from '../registry/sqlite.ts';

export interface CheapFleet {
  /** device ids, `${prefix}0001`…; each device's vehicle is `veh-${id}` */
  ids: string[];
  /** the one secret of every device */
  secret: string;
}

/**
 * Writes N muck-truck devices into the registry of a (stopped) platform's DATA_DIR. They share one
 * secret, stored as a real `scrypt$N$r$p$salt$hash` with N=16: the broker verifies it with scrypt like
 * any other, only about a thousand times faster than the production cost (N=16384, ~40 ms), so a test
 * can connect hundreds of devices.
 */
export function seedCheapFleet(dataDir: string, count: number, prefix = 'cf-'): CheapFleet {
  const secret = 'cheap-fleet-secret-0123456789';
  const salt = randomBytes(16);
  const key = scryptSync(secret, salt, 32, { N: 16, r: 1, p: 1 });
  const secretHash = ['scrypt', 16, 1, 1, salt.toString('base64'), key.toString('base64')].join('$');
  const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
  try {
    registry.upsertFirm({ id: 'cheap-firm', name: 'cheap fleet' });
    const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    for (const id of ids) {
      registry.upsertVehicle({ id: `veh-${id}`, plate: `CF-${id}`, kind: 'muck_truck', firm: 'cheap-firm' });
    }
    registry.importDevices(
      ids.map((id) => ({
        id,
        kind: 'muck_truck' as const,
        vehicle: `veh-${id}`,
        firm: 'cheap-firm',
        secretHash,
      })),
    );
    return { ids, secret };
  } finally {
    registry.close();
  }
}
