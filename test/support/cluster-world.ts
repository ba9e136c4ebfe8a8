/**
 * What the cluster tests share: a DATA_DIR whose registry (devices with secrets) and compliance world
 * (sites, routes, zones, permits) the edges and workers read, and a reader of the whole fix stream.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ClusterConnection, FIX_STREAM } from '../../cluster/jetstream.ts';
import { partitionOfSubject } from '../../cluster/partitions.ts';
import type { Fix } from '../../core/fix.ts';
import { ComplianceRegistry, vehicleProfilesFrom } from '../../registry/compliance.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';
import type { NewDevice, Vehicle } from '../../registry/types.ts';
import type { DemoComplianceSeed } from '../../simulators/demo/compliance.ts';

export interface StreamedFix {
  seq: number;
  partition: number;
  fix: Fix;
  msgId: string;
}

/**
 * what the registry node of registry-node-child.ts writes before it kills itself: a device disabled and
 * a firm renamed (records the stream names already) and a zone
 */
export const CRASH_WRITES = {
  device: 'dev-o1',
  firm: 'firm-o',
  firmName: 'renamed before the crash',
  zone: 'zone-crash',
};

/** a fresh DATA_DIR with these firms, vehicles, devices and (optionally) compliance world */
export async function seedDataDir(world: {
  firms: readonly string[];
  vehicles: readonly Vehicle[];
  devices: readonly NewDevice[];
  compliance?: DemoComplianceSeed;
}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'citywatch-cluster-'));
  const registry = new SqliteRegistry({ dir: path.join(dir, 'registry') });
  for (const firm of world.firms) registry.upsertFirm({ id: firm, name: firm });
  for (const vehicle of world.vehicles) registry.upsertVehicle(vehicle);
  for (const device of world.devices) await registry.putDevice(device);
  if (world.compliance) {
    const compliance = new ComplianceRegistry({
      dir: path.join(dir, 'compliance'),
      vehicles: () => vehicleProfilesFrom(registry),
    });
    const strip = <T extends { version: number }>({ version: _v, ...rest }: T) => rest;
    for (const site of world.compliance.sites) compliance.put('site', strip(site));
    for (const route of world.compliance.routes) compliance.put('route', strip(route));
    for (const zone of world.compliance.zones) compliance.put('zone', strip(zone));
    for (const permit of world.compliance.permits)
      compliance.put('permit', { ...strip(permit), state: 'active' });
    compliance.close();
  }
  registry.close();
  return dir;
}

/**
 * every message of the fix stream, in stream order. Read again (idempotent) while its calls fail, up to
 * `timeoutMs`: right after NATS nodes restarted, the stream's API calls time out until its leader is
 * elected (the edge test's read after the quorum came back failed so in CI).
 */
export async function readFixStream(conn: ClusterConnection, timeoutMs = 120_000): Promise<StreamedFix[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readFixStreamOnce(conn);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function readFixStreamOnce(conn: ClusterConnection): Promise<StreamedFix[]> {
  const info = await conn.jsm.streams.info(FIX_STREAM);
  const last = info.state.last_seq;
  const out: StreamedFix[] = [];
  if (info.state.messages === 0) return out;
  const consumer = await conn.js.consumers.get(FIX_STREAM);
  while (out.length === 0 || out.at(-1)!.seq < last) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
    for await (const m of batch) {
      out.push({
        seq: m.seq,
        partition: partitionOfSubject(m.subject),
        fix: m.json<Fix>(),
        msgId: m.headers?.get('Nats-Msg-Id') ?? '',
      });
    }
  }
  return out;
}
