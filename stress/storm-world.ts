/**
 * The world of the evidence-storm and shutdown cases (issue 10, defects 1 and 5), shared by their
 * regression tests (test/compliance/evidence-storm.test.ts, test/platform/shutdown.test.ts) and `npm run stress`: a fleet of
 * cheap-secret muck trucks written into a stopped platform's DATA_DIR, their fixes published over MQTT
 * as the devices themselves, and what the platform and InfluxDB say about them.
 */
import mqtt from 'mqtt';
import { type CheapFleet, seedCheapFleet } from '../testkit/cheap-fleet.ts';

export { type CheapFleet, seedCheapFleet };

/** between two fixes of a storm track: over TRACK_GAP's 5 minutes, so every fix after the first closes one */
export const STORM_GAP_MS = 6 * 60_000;

/**
 * A storm track: `count` fixes STORM_GAP_MS apart, the last at `endTs`, ignition off, empty, moving east
 * at 30 km/h (a plausible position at every fix: a gap, never an outlier). Every fix after the first
 * opens and closes a TRACK_GAP; nothing else (no permit needed when empty, speed under every limit;
 * ignition off: a silence with the ignition on is an OFFLINE too, judged at the fix that ends it).
 */
export function stormTrack(count: number, endTs: number, lat: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    ts: endTs - (count - 1 - i) * STORM_GAP_MS,
    lat,
    lon: 117.1 + i * 0.03, // ~2.8 km in 6 minutes
    speed: 30,
    heading: 90,
    ign: false,
    load: 'empty',
  }));
}

/** A parked truck's fixes, one a second up to `endTs`: the spool fills, no violation is raised. */
export function parkedTrack(count: number, endTs: number, lat: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    ts: endTs - (count - 1 - i) * 1000,
    lat,
    lon: 117.3,
    speed: 0,
    ign: false,
    load: 'empty',
  }));
}

/**
 * Publishes every device's messages (each an array of fixes) as that device, QoS 1, `concurrency`
 * devices at a time; resolves once every PUBACK came back, i.e. every fix is durable in the spool.
 */
export async function publishFleet(
  mqttUrl: string,
  fleet: CheapFleet,
  messagesOf: (deviceId: string, index: number) => Record<string, unknown>[][],
  concurrency = 16,
): Promise<number> {
  let next = 0;
  let fixes = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      const id = fleet.ids[index];
      if (id === undefined) return;
      const client = await mqtt.connectAsync(mqttUrl, {
        clientId: id,
        username: id,
        password: fleet.secret,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
      });
      try {
        for (const message of messagesOf(id, index)) {
          await client.publishAsync(`devices/${id}/telemetry`, JSON.stringify(message), { qos: 1 });
          fixes += message.length;
        }
      } finally {
        await client.endAsync();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return fixes;
}

/** One InfluxQL count (the first value of the first series, 0 when there is none). */
export async function influxCount(influxUrl: string, database: string, q: string): Promise<number> {
  const url = new URL('/query', influxUrl);
  url.searchParams.set('db', database);
  url.searchParams.set('q', q);
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  const body = (await res.json()) as { results?: { series?: { values?: unknown[][] }[]; error?: string }[] };
  const result = body.results?.[0];
  if (!res.ok || result?.error) throw new Error(`InfluxQL ${q}: HTTP ${res.status} ${result?.error ?? ''}`);
  const value = result?.series?.[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

/** What the storm left in InfluxDB: TRACK_GAP violations, their phase history and evidence packages. */
export async function stormCounts(
  influxUrl: string,
  database: string,
): Promise<{ violations: number; phases: number; evidence: number }> {
  const [violations, phases, evidence] = await Promise.all([
    influxCount(influxUrl, database, `SELECT count("seq") FROM "violation" WHERE "code" = 'TRACK_GAP'`),
    influxCount(influxUrl, database, `SELECT count("seq") FROM "violation_phase" WHERE "code" = 'TRACK_GAP'`),
    // chunk 0 of a package is the only point with `chunks`
    influxCount(influxUrl, database, `SELECT count("chunks") FROM "evidence" WHERE "code" = 'TRACK_GAP'`),
  ]);
  return { violations, phases, evidence };
}

// biome-ignore lint/suspicious/noExplicitAny: the health report is read figure by figure
export type Health = { status: string; components: Record<string, any> };

/** GET /healthz within `timeoutMs`; rejects when it does not answer in time. */
export async function healthz(httpUrl: string, timeoutMs = 5_000): Promise<Health> {
  const res = await fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
  return (await res.json()) as Health;
}

export interface StopReport {
  spoolFixes: number;
  outboxEvents: number;
  evidenceDue: number;
  msg: string;
}

/** The platform's last words (`platform stopped...`, platform/platform.ts) from its JSON log lines. */
export function stopReport(output: string): StopReport | undefined {
  for (const line of output.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Partial<StopReport>;
      if (entry.msg?.startsWith('platform stopped') && typeof entry.spoolFixes === 'number')
        return {
          spoolFixes: entry.spoolFixes,
          outboxEvents: entry.outboxEvents ?? Number.NaN,
          evidenceDue: entry.evidenceDue ?? Number.NaN,
          msg: entry.msg,
        };
    } catch {
      // not a log line
    }
  }
  return undefined;
}
