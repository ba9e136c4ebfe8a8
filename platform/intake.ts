import path from 'node:path';
import type { Logger } from 'pino';
import { type Fix, upgradeSpooledFix } from '../core/fix.ts';
import { Backpressure, spoolPressure } from '../ingest/backpressure.ts';
import { IngestCore } from '../ingest/core.ts';
import { LatestPositions } from '../ingest/latest-cache.ts';
import type { IngestMetrics } from '../ingest/metrics.ts';
import { Spool } from '../ingest/spool.ts';
import type { SqliteRegistry } from '../registry/sqlite.ts';
import type { Device } from '../registry/types.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';
import type { MqttOutlet } from './mqtt-outlet.ts';

/**
 * The intake every entry point (embedded broker, external broker, JT/T 808) hands its messages to: the
 * ingest core (validation, normalization), the fsync'd spool behind it, the backpressure that reaches the
 * devices as slower acknowledgements when the store falls behind, and the latest position of each unit.
 */
export interface Intake {
  spool: Spool;
  backpressure: Backpressure;
  core: IngestCore;
  latest: LatestPositions;
}

export interface IntakeDeps {
  registry: SqliteRegistry;
  store: FixStore;
  metrics: IngestMetrics;
  outlet: MqttOutlet;
  logger: Logger;
}

export async function openIntake(config: Config, deps: IntakeDeps): Promise<Intake> {
  const { env } = config;
  const { registry, store, metrics, outlet, logger } = deps;
  const spool = new Spool({
    dir: path.join(config.dataDir, 'spool'),
    maxBytes: env.SPOOL_MAX_BYTES,
    minFreeBytes: env.SPOOL_MIN_FREE_BYTES,
  });
  await spool.open();
  // The store slower than intake: the spool's limits reach the devices as later acknowledgements.
  const spoolLimits = {
    maxBytes: env.SPOOL_MAX_BYTES,
    maxAgeMs: env.SPOOL_MAX_AGE_S * 1000,
    minFreeBytes: env.SPOOL_MIN_FREE_BYTES,
  };
  const pressure = () => spoolPressure(spool.level(), spoolLimits, Date.now());
  const backpressure = new Backpressure(pressure);
  spool.onChange(() => backpressure.poke());
  metrics.registerSpoolLevel(() => {
    const s = backpressure.stats();
    return {
      fill: s.fill,
      diskBytes: spool.stats().diskBytes,
      waiting: s.waiting,
      slowed: s.slowed,
      held: s.held,
    };
  });

  const latest = new LatestPositions();
  const core = new IngestCore({
    registry,
    spool,
    backpressure,
    metrics,
    limits: {
      maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
      maxFixesPerMessage: env.MAX_FIXES_PER_MESSAGE,
      maxFutureSkewMs: env.MAX_FUTURE_SKEW_S * 1000,
      maxFixAgeMs: env.MAX_FIX_AGE_DAYS * 86_400_000,
    },
    deadLetter: (topic, payload) => outlet.deadLetter(topic, payload),
    logger,
    ...(store.unstorableIds
      ? {
          unstorable: (d: Device) =>
            store.unstorableIds?.({ firm: d.firm, vehicle: d.unit, device: d.id, officer: d.officer }),
        }
      : {}),
  });
  core.onFixes((fixes) => {
    for (const fix of fixes) latest.offer(fix);
  });
  return { spool, backpressure, core, latest };
}

/** The spool's fixes from its checkpoint on, for judging again what a crash left unjudged. */
export async function* spooledFixes(spool: Spool): AsyncGenerator<Fix[]> {
  for await (const records of spool.replay()) {
    const fixes: Fix[] = [];
    for (const record of records) {
      try {
        fixes.push(upgradeSpooledFix(JSON.parse(record) as Fix));
      } catch {
        // a corrupt record: the pump counts it (spoolCorrupt) when it reads it
      }
    }
    if (fixes.length > 0) yield fixes;
  }
}
