import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { REJECTION_REASONS } from './reasons.ts';

/** Ingest metrics, registered on the platform's prom-client registry (served at GET /metrics). */
export function createIngestMetrics(registry: Registry) {
  const rejected = new Counter({
    name: 'citywatch_ingest_rejected_total',
    help: 'Fixes or messages refused by ingest, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Pre-create every reason so dashboards see zeros instead of missing series.
  for (const reason of REJECTION_REASONS) rejected.labels(reason).inc(0);
  // The spool's level against its limits and the backpressure it causes, read at scrape time.
  let level: (() => SpoolLevelFigures) | undefined;
  const read = () => level?.();
  new Gauge({
    name: 'citywatch_spool_fill_ratio',
    help: 'Spool level against its limits (SPOOL_MAX_BYTES, SPOOL_MAX_AGE_S, free-space floor): acknowledgements slow down from 0.8 and wait at 1',
    registers: [registry],
    collect() {
      const l = read();
      if (l) this.set(l.fill);
    },
  });
  new Gauge({
    name: 'citywatch_spool_disk_bytes',
    help: 'Bytes the spool segment files take on disk (bounded by SPOOL_MAX_BYTES)',
    registers: [registry],
    collect() {
      const l = read();
      if (l) this.set(l.diskBytes);
    },
  });
  new Gauge({
    name: 'citywatch_ingest_backpressure_waiting',
    help: 'Messages waiting for admission (their acknowledgement withheld) because the spool is near or at its limit',
    registers: [registry],
    collect() {
      const l = read();
      if (l) this.set(l.waiting);
    },
  });
  new Counter({
    name: 'citywatch_ingest_backpressure_total',
    help: 'Messages whose acknowledgement was delayed (mode="slowed": spool past 80 %) or withheld until room was made (mode="held": spool full)',
    labelNames: ['mode'] as const,
    registers: [registry],
    collect() {
      const l = read();
      if (!l) return;
      // counters kept by the admission queue; exposed as they stand
      this.reset();
      this.labels('slowed').inc(l.slowed);
      this.labels('held').inc(l.held);
    },
  });
  return {
    /** the figures behind the spool level metrics (the platform wires its spool and backpressure) */
    registerSpoolLevel(fn: () => SpoolLevelFigures): void {
      level = fn;
    },
    messages: new Counter({
      name: 'citywatch_ingest_messages_total',
      help: 'Telemetry messages received, by transport',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'citywatch_ingest_fixes_accepted_total',
      help: 'Fixes validated and made durable in the spool',
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'citywatch_ingest_duplicates_total',
      help: 'Fixes dropped as duplicates of an already accepted (device, ts)',
      registers: [registry],
    }),
    late: new Counter({
      name: 'citywatch_ingest_late_total',
      help: 'Fixes accepted out of time order (marked late)',
      registers: [registry],
    }),
    rejected,
    durableLatency: new Histogram({
      name: 'citywatch_ingest_durable_seconds',
      help: 'Time from receipt of a message to its fixes being durable in the spool',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    spoolDepth: new Gauge({
      name: 'citywatch_spool_depth_fixes',
      help: 'Fixes in the spool not yet written to the store',
      registers: [registry],
    }),
    spoolBytes: new Gauge({
      name: 'citywatch_spool_depth_bytes',
      help: 'Bytes in the spool not yet written to the store',
      registers: [registry],
    }),
    storeWrites: new Counter({
      name: 'citywatch_store_writes_total',
      help: 'Batch writes to the store, by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    storeFixes: new Counter({
      name: 'citywatch_store_fixes_written_total',
      help: 'Fixes written to the store',
      registers: [registry],
    }),
    storeLag: new Gauge({
      name: 'citywatch_store_lag_seconds',
      help: 'How long the oldest fix of the batch last written to the store (or being retried while the store fails) had waited since the platform received it',
      registers: [registry],
    }),
    storeWriteLatency: new Histogram({
      name: 'citywatch_store_write_seconds',
      help: 'Duration of one batch write to the store',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    quarantined: new Counter({
      name: 'citywatch_store_fixes_quarantined_total',
      help: 'Fixes the store refused permanently, set aside in the quarantine file',
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'citywatch_ingest_dead_letters_total',
      help: 'Messages refused by ingest and published to the platform/deadletter topic (one per message, whatever the number of rejections in it)',
      registers: [registry],
    }),
    spoolAppendFailures: new Counter({
      name: 'citywatch_spool_append_failures_total',
      help: 'Messages whose fixes could not be written to the spool (not acknowledged: the device sends them again)',
      registers: [registry],
    }),
    deprecatedFields: new Counter({
      name: 'citywatch_ingest_deprecated_fields_total',
      help: 'Accepted fixes that used a deprecated form of the device contract, by field (acc_number: the accuracy sent as a number in acc, which now means ignition; send accuracy)',
      labelNames: ['field'] as const,
      registers: [registry],
    }),
    spoolCorrupt: new Counter({
      name: 'citywatch_spool_corrupt_records_total',
      help: 'Spool records that could not be parsed on replay (skipped)',
      registers: [registry],
    }),
  };
}

export interface SpoolLevelFigures {
  fill: number;
  diskBytes: number;
  waiting: number;
  slowed: number;
  held: number;
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
