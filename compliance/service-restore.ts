import type { Logger } from 'pino';
import type { EngineDriver } from './engine-driver.ts';
import { engineFingerprint } from './engine-state-codec.ts';
import type { EngineStateStore } from './engine-state-store.ts';
import type { EventOutbox } from './event-outbox.ts';
import { PlatformOutages } from './platform-outages.ts';

/**
 * What the compliance service (compliance/service.ts) reads back at its construction, from the
 * durable engine state (compliance/engine-state-store.ts): the vehicles' saved states into the engine
 * driver, the outbox's counts (its rows are read page by page later), the vehicles with a history (late
 * fixes), the platform's outages within the backfill horizon, and since when the platform was down.
 */

export interface RestoredService {
  outages: PlatformOutages;
  /** the judgement clock's instant of the last commit before this start; undefined at a first start */
  downSince: number | undefined;
}

export function restoreService(
  store: EngineStateStore,
  parts: { driver: EngineDriver; outbox: EventOutbox; horizonMs: number; logger: Logger },
): RestoredService {
  const { driver, outbox, logger: log } = parts;
  const restored = store.open(engineFingerprint(driver.engine));
  const newestFix = driver.restore(restored.vehicles);
  outbox.restored(restored.outbox);
  driver.late.restored(restored.historyVehicles);
  const outages = new PlatformOutages(store.history().outages(Date.now() - parts.horizonMs));
  // down since the last commit before this start (a state saved by an older version has no such
  // instant: the newest fix of a restored vehicle is the best guess of when the platform stopped)
  const downSince =
    restored.aliveAt ?? (driver.vehicles > 0 && Number.isFinite(newestFix) ? newestFix : undefined);
  if (restored.discardedVehicles > 0)
    log.warn(
      { discarded: restored.discardedVehicles, file: store.file },
      'compliance: saved engine states were written by another engine version; starting them afresh',
    );
  log.info(
    {
      vehicles: driver.vehicles,
      withHistory: driver.late.withHistory,
      downSince,
      outboxViolations: restored.outbox.violation,
      outboxTrips: restored.outbox.trip,
      evidenceDue: restored.evidenceDue,
    },
    'compliance: engine state restored',
  );
  return { outages, downSince };
}
