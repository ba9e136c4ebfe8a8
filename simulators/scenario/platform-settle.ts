/**
 * When a platform has judged a run: after the last fix was acknowledged, the engine still has to raise
 * the silences (OFFLINE, TRACK_GAP) up to the run's end at a compliance tick, and the violations still
 * have to leave the outbox for the event store. GET /healthz carries both (the compliance component's
 * `lastTickAt`, `queuedViolations`, `outbox`); scoring before they settle would count misses that
 * are only late.
 */

/** The compliance figures of GET /healthz this reads (extra figures are ignored). */
export interface ComplianceHealth {
  clock?: unknown;
  lastTickAt?: unknown;
  queuedViolations?: unknown;
  outbox?: unknown;
}

export interface HealthBody {
  status?: unknown;
  components?: { compliance?: ComplianceHealth } & Record<string, unknown>;
}

/** What silence is judged by on that platform: 'fleet', 'wall', or undefined for a platform that does not say. */
export function clockOf(health: HealthBody): 'fleet' | 'wall' | undefined {
  const c = health.components?.compliance?.clock;
  return c === 'fleet' || c === 'wall' ? c : undefined;
}

/**
 * Why the platform has not settled for a run ending at `endTs` (undefined: settled). A platform whose
 * health does not report the figures (another platform, an older version) cannot be waited on: the
 * caller falls back to a fixed pause.
 */
export function unsettledReason(health: HealthBody, endTs: number): string | undefined {
  const c = health.components?.compliance;
  if (c === undefined) return 'no compliance component in /healthz';
  const tick = typeof c.lastTickAt === 'string' ? Date.parse(c.lastTickAt) : Number.NaN;
  if (!(tick >= endTs))
    return `silence judged up to ${Number.isFinite(tick) ? new Date(tick).toISOString() : 'nothing yet'}, the run ends ${new Date(endTs).toISOString()}`;
  if (typeof c.queuedViolations === 'number' && c.queuedViolations > 0)
    return `${c.queuedViolations} violation(s) not yet in the event store`;
  if (typeof c.outbox === 'number' && c.outbox > 0) return `${c.outbox} event(s) in the outbox`;
  return undefined;
}

/**
 * The platform's own MQTT broker as seen from the API's host: `mqtt://<API host>:<its port>` from the
 * broker component of GET /healthz; undefined when the platform runs no broker of its own (an external
 * one: PARTS without broker, INGEST_MQTT_URL) or does not say.
 */
export function brokerUrlOf(health: HealthBody, api: URL): string | undefined {
  const broker = health.components?.broker as { ports?: { mqtt?: unknown } } | undefined;
  const port = broker?.ports?.mqtt;
  return typeof port === 'number' ? `mqtt://${api.hostname}:${port}` : undefined;
}

export async function fetchHealth(api: string, signal?: AbortSignal): Promise<HealthBody> {
  const res = await fetch(new URL('/healthz', api), signal ? { signal } : {});
  // 503 (down) still carries the report
  return (await res.json()) as HealthBody;
}

export interface SettleOptions {
  api: string;
  /** the run's simulated end (epoch ms) */
  endTs: number;
  timeoutMs: number;
  pollMs?: number;
  log?: (line: string) => void;
}

/** Polls /healthz until the run is judged; throws naming what it still waited on at the timeout. */
export async function waitUntilJudged(o: SettleOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  let reason: string | undefined = 'not asked yet';
  let lastLogged = 0;
  for (;;) {
    try {
      reason = unsettledReason(await fetchHealth(o.api), o.endTs);
    } catch (err) {
      reason = `GET /healthz failed: ${(err as Error).message}`;
    }
    if (reason === undefined) return;
    if (Date.now() >= deadline)
      throw new Error(
        `the platform did not finish judging the run within ${o.timeoutMs / 1000} s: ${reason}`,
      );
    if (Date.now() - lastLogged >= 5000) {
      o.log?.(`waiting for the platform: ${reason}`);
      lastLogged = Date.now();
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
}
