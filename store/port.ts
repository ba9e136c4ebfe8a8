import type { Fix, UnitKind } from '../core/fix.ts';

/**
 * The storage port. Two adapters implement it (InfluxDB in store/influx/, the embedded SQLite default in
 * store/embedded.ts) and both pass the same contract suite (test/store/contract/).
 *
 * Durability of accepted fixes is the spool's job (ingest/spool.ts): the store is written from the
 * spool in batches and the spool only moves past a batch once `writeFixes` has resolved. So a store
 * must be idempotent: writing the same (vehicle, ts) twice keeps one fix (the later write wins).
 */
export interface LatestFilter {
  firm?: string;
  kind?: UnitKind;
  /** restrict to these unit ids */
  vehicles?: readonly string[];
}

export interface TrackQuery {
  vehicle: string;
  /** inclusive, UTC epoch ms */
  from: number;
  /** inclusive, UTC epoch ms */
  to: number;
  /** maximum number of fixes returned (oldest first); adapters default to 100,000 */
  limit?: number;
}

export interface StoreHealth {
  ok: boolean;
  /** human-readable reason when not ok */
  detail?: string;
}

export interface FixStore {
  /** 'embedded' | 'influxdb-v1' | 'influxdb-v2' */
  readonly name: string;
  /** Create schema / database if needed. Safe to call more than once. */
  open(): Promise<void>;
  /**
   * Write a batch. Rejects (without partial success guarantees) when the backend is unreachable. An
   * error with `permanent === true` means at least one fix of the batch can never be written (the pump
   * then bisects the batch and quarantines that fix instead of retrying forever).
   */
  writeFixes(fixes: readonly Fix[]): Promise<void>;
  /** Latest fix (greatest ts) of every unit matching the filter. */
  latest(filter?: LatestFilter): Promise<Fix[]>;
  /** Latest fix of one unit, undefined if none. */
  latestOf(vehicle: string): Promise<Fix | undefined>;
  /** Fixes of one unit in [from, to], oldest first. */
  track(query: TrackQuery): Promise<Fix[]>;
  /** Count of stored fixes of one unit in [from, to] (used by tests and the benchmark). */
  count(vehicle: string, from: number, to: number): Promise<number>;
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
  /**
   * Why this store can never hold a fix carrying these ids (undefined: it can). Every id of the registry's
   * grammar can be held (registry/ids.ts); an id created before the grammar may not, and ingest refuses
   * such a device's fixes (`unstorable_id`) instead of acknowledging fixes the store will refuse. Absent:
   * the store holds any string.
   */
  unstorableIds?(ids: StoredIds): string | undefined;
}

/** The registry ids a fix carries into the store: tags or string fields, depending on the adapter. */
export interface StoredIds {
  firm: string;
  vehicle: string;
  device: string;
  officer?: string | undefined;
}
