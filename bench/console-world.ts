import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry as MetricsRegistry } from 'prom-client';
import { buildApi } from '../api/app.ts';
import { LiveHub } from '../api/live-hub.ts';
import { consoleRoutes } from '../console/server.ts';
import type { Fix } from '../core/fix.ts';
import { EmbeddedEventStore } from '../store/events-embedded.ts';

/**
 * The console benchmark's server side (bench/console.ts): 10,000 units in a 25 km square, the real API
 * and console server, and the fixes offered straight into the live hub at a fixed rate.
 */

export const UNITS = 10_000;
export const TARGET_RATE = 2000;
export const LAG_GOAL_MS = 1000;
export const TOKEN = 'bench-console-admin-token-0123';
const BOX = { lon: 117.1, lat: 31.7, span: 0.25 };
export const VIEWPORT = { width: 1920, height: 1080 };

export class Fleet {
  readonly fixes = new Map<string, Fix>();
  private ts = Date.now() - 3_600_000;
  private next = 0;
  private readonly ids: string[] = [];

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const id = `bench-${String(i + 1).padStart(5, '0')}`;
      this.ids.push(id);
      this.fixes.set(
        id,
        this.fix(id, BOX.lon + Math.random() * BOX.span, BOX.lat + Math.random() * BOX.span),
      );
    }
  }

  private fix(id: string, lon: number, lat: number): Fix {
    this.ts += 1;
    return {
      vehicle: id,
      device: `dev-${id}`,
      kind: 'muck_truck',
      firm: 'bench-firm',
      ts: this.ts,
      received: Date.now(),
      lat,
      lon,
      speed: 30,
      heading: Math.floor(Math.random() * 360),
      valid: true,
      crsIn: 'WGS84',
      late: false,
    };
  }

  /** The next n updates, round robin over the units, each moving its unit about 30 m. */
  updates(n: number): Fix[] {
    const out: Fix[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.ids[this.next]!;
      this.next = (this.next + 1) % this.ids.length;
      const prev = this.fixes.get(id)!;
      const a = Math.random() * 2 * Math.PI;
      const lon = Math.min(BOX.lon + BOX.span, Math.max(BOX.lon, prev.lon + 0.0003 * Math.cos(a)));
      const lat = Math.min(BOX.lat + BOX.span, Math.max(BOX.lat, prev.lat + 0.00027 * Math.sin(a)));
      const f = this.fix(id, lon, lat);
      this.fixes.set(id, f);
      out.push(f);
    }
    return out;
  }
}

export async function startServer(
  fleet: Fleet,
): Promise<{ app: FastifyInstance; url: string; hub: LiveHub; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'citywatch-bench-console-'));
  const events = new EmbeddedEventStore({ dir });
  await events.open();
  const registry = {
    vehicle: () => undefined,
    device: () => undefined,
    firm: () => undefined,
    vehicles: () => [],
    devices: () => [],
  };
  const hub = new LiveHub({
    registry,
    retentionMs: 120_000,
    maxEvents: 1_000_000,
    maxLag: 1_000_000,
    clientBufferBytes: 1024 * 1024,
    heartbeatMs: 15_000,
  });
  const app = await buildApi(
    {
      adminToken: TOKEN,
      positions: {
        latest: async () => [...fleet.fixes.values()],
        latestOf: async (id: string) => fleet.fixes.get(id),
      },
      registry,
      health: async () => ({ status: 'ok', components: {} }),
      metrics: new MetricsRegistry(),
      live: hub,
      events,
    },
    {},
  );
  await app.register(consoleRoutes, { config: { displayCrs: 'WGS84', version: 'bench' } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    app,
    url,
    hub,
    close: async () => {
      hub.close();
      await app.close();
      await events.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Offers `rate` updates a second for `ms`, in 20 ms slices counted from the start (no drift). */
export async function offer(hub: LiveHub, fleet: Fleet, rate: number, ms: number): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < ms) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    if (due > sent) {
      hub.publishFixes(fleet.updates(due - sent));
      sent = due;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return sent;
}
