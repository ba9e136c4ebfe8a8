import { Counter, Gauge, Histogram, type Registry as MetricsRegistry } from 'prom-client';
import { UNIT_KINDS, type UnitKind } from '../core/fix.ts';
import type { ViolationCode } from '../geofence/model.ts';
import { ALL_RULES } from '../geofence/rules/index.ts';

/**
 * Prometheus metrics of the compliance engine's shell (compliance/service.ts). Labels stay bounded:
 * the violation type (12 codes) and the kind of organisation the unit belongs to (3 kinds), never a
 * vehicle, firm or permit id: a city has thousands of vehicles and tens to hundreds of firms, and the
 * per-firm and per-vehicle figures are in InfluxDB (the Compliance dashboard), not in Prometheus.
 */

/**
 * `firm_kind`: a firm in the registry is whoever owns the unit, and it has no kind of its own; what sort
 * of organisation it is follows from its units. Muck trucks belong to transport firms (运输企业),
 * sweepers to sanitation contractors (环卫), body cameras to enforcement departments (城管执法).
 */
export const FIRM_KINDS = ['transport', 'sanitation', 'enforcement', 'unknown'] as const;
export type FirmKind = (typeof FIRM_KINDS)[number];

const FIRM_KIND_OF: Record<UnitKind, FirmKind> = {
  muck_truck: 'transport',
  sanitation: 'sanitation',
  body_camera: 'enforcement',
};

export function firmKindOf(kind: UnitKind | undefined): FirmKind {
  return kind === undefined ? 'unknown' : FIRM_KIND_OF[kind];
}

/** Every fix judged costs microseconds: one in this many is timed (a power of two: a mask test). */
export const STEP_SAMPLE_EVERY = 64;

export interface ComplianceMetricsSource {
  /** violations the engine has opened and not closed, by code (read at scrape time) */
  openViolationsByCode(): ReadonlyMap<string, number>;
}

export function createComplianceMetrics(registry: MetricsRegistry, source: ComplianceMetricsSource) {
  const violations = new Counter({
    name: 'citywatch_violations_total',
    help: 'Violations opened by the engine, by type (code) and by the kind of organisation the unit belongs to (firm_kind: transport = muck trucks, sanitation = sweepers, enforcement = body cameras)',
    labelNames: ['type', 'firm_kind'] as const,
    registers: [registry],
  });
  // The combinations a rule can produce start at zero, so increase() sees the first violation.
  for (const rule of ALL_RULES) {
    const kinds = rule.appliesTo ?? UNIT_KINDS;
    for (const kind of kinds) violations.labels(rule.code, firmKindOf(kind)).inc(0);
  }
  const codes = ALL_RULES.map((r) => r.code as ViolationCode);
  new Gauge({
    name: 'citywatch_violations_open',
    help: 'Violations in progress: opened by the engine and not closed yet, by type (code)',
    labelNames: ['type'] as const,
    registers: [registry],
    collect() {
      const open = source.openViolationsByCode();
      for (const code of codes) this.labels(code).set(open.get(code) ?? 0);
      for (const [code, n] of open) if (!codes.includes(code as ViolationCode)) this.labels(code).set(n);
    },
  });
  const stepSeconds = new Histogram({
    name: 'citywatch_engine_step_seconds',
    help: `Time the engine takes to judge one fix (rules, trips, events), sampled: one fix in ${STEP_SAMPLE_EVERY} is timed`,
    buckets: [0.000002, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01],
    registers: [registry],
  });
  const tickSeconds = new Histogram({
    name: 'citywatch_engine_tick_seconds',
    help: 'Time one silence tick (OFFLINE, over every known vehicle) takes',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  return { violations, stepSeconds, tickSeconds };
}

export type ComplianceMetrics = ReturnType<typeof createComplianceMetrics>;
