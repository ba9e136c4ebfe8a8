import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashSecret } from '../../registry/secrets.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import { generateCredentials } from './credentials.ts';
import { loadPhone } from './jt808.ts';
import type { LoadCredential } from './options.ts';

/**
 * A load-test fleet for the platform: N muck trucks with their terminals, written straight into the
 * registry of a platform's DATA_DIR (`sim load --prepare DIR`), and the credentials file the load
 * command reads (`--ids-file`). The API provisions one device per request with its own scrypt hash
 * (about 40 ms each) under a rate limit, which is right for real devices and hours for 100,000 test
 * ones: here every device shares one secret, hashed once, and the devices go in one transaction
 * (SqliteRegistry.importDevices, as the benchmark does). The broker still checks each connection's
 * secret with scrypt, once per device per platform start (then it remembers the check).
 *
 * The platform must not be running: it reads its registry into memory at start, so devices written
 * behind its back stay unknown to it until it restarts.
 */

export interface LoadFleetOptions {
  /** the platform's DATA_DIR (its registry is DATA_DIR/registry) */
  dataDir: string;
  vehicles: number;
  /** device id prefix, as the load command's --prefix (default "load-": load-00001, ...) */
  prefix?: string;
  /** firm the trucks belong to (created; default "load-firm") */
  firm?: string;
  /** the devices' nominal report interval (OFFLINE allows 3x it), seconds (default 10) */
  reportIntervalS?: number;
  /** shared secret (default: a random one) */
  secret?: string;
  /** credentials file to write (JSON [{id, secret}]) */
  idsFile?: string;
}

export interface LoadFleet {
  devices: number;
  credentials: LoadCredential[];
  idsFile?: string;
}

export async function prepareLoadFleet(o: LoadFleetOptions): Promise<LoadFleet> {
  const prefix = o.prefix ?? 'load-';
  const firm = o.firm ?? 'load-firm';
  const secret = o.secret ?? randomBytes(24).toString('base64url');
  const credentials = generateCredentials(o.vehicles, prefix, secret);
  const secretHash = await hashSecret(secret);
  const registry = new SqliteRegistry({ dir: join(o.dataDir, 'registry') });
  try {
    registry.upsertFirm({ id: firm, name: 'Load test fleet' });
    const devices = credentials.map((c) => {
      const n = c.id.slice(prefix.length);
      return {
        id: c.id,
        kind: 'muck_truck' as const,
        vehicle: `${prefix}veh-${n}`,
        firm,
        reportIntervalS: Math.max(1, Math.round(o.reportIntervalS ?? 10)),
        secretHash,
        // a JT/T 808 terminal too (sim load --jt808): vehicle n reports from phone loadPhone(n)
        jt808: { phone: loadPhone(Number(n)) },
      };
    });
    // vehicles first, so the compliance engine knows every unit it is sent fixes for
    for (const d of devices)
      registry.upsertVehicle({
        id: d.vehicle,
        plate: `LOAD-${d.vehicle.slice(prefix.length + 4)}`,
        kind: 'muck_truck',
        firm,
        ratedLoadT: 18,
      });
    registry.importDevices(devices);
  } finally {
    registry.close();
  }
  const out = credentials.map((c) => ({ id: c.id, secret: c.password }));
  if (o.idsFile) await writeFile(o.idsFile, `${JSON.stringify(out)}\n`, { mode: 0o600 });
  return { devices: credentials.length, credentials, ...(o.idsFile ? { idsFile: o.idsFile } : {}) };
}
