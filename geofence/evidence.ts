import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Fix } from '../core/fix.ts';
import type { EntityRef, Permit, Route, Site, Zone } from './model.ts';
import type { Violation, World } from './types.ts';

/**
 * The evidence package of a violation, for off-site enforcement (非现场执法): the fixes from before the
 * onset to after the end with their sensor values, the entities judged against (ids, versions and
 * geometry), the thresholds in force and the rule version, sealed by a sha256 over a canonical form.
 * Replaying the same fixes through the engine yields the same violation and so the same hash.
 */

export const EVIDENCE_FORMAT = 'citywatch-evidence/1';
/** how much track to include around the violation */
export const EVIDENCE_MARGIN_MS = 2 * 60_000;

export interface EvidenceEntity {
  ref: EntityRef;
  entity: Site | Route | Zone | Permit | Record<string, unknown>;
}

export interface EvidencePackage {
  format: typeof EVIDENCE_FORMAT;
  violation: Violation;
  /** fixes in [startTs - margin, (endTs ?? last fix) + margin], oldest first */
  fixes: Fix[];
  entities: EvidenceEntity[];
  /** hex sha256 of canonicalJson of the package without this field */
  sha256: string;
}

/** Strings with a lone surrogate: UTF-16 halves without their other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * RFC 8785 canonical JSON (JCS), by the `canonicalize` package: object keys sorted by UTF-16 code
 * units, no whitespace, numbers as ECMAScript prints them (shortest round-trip form), `undefined`
 * members omitted. Its bytes are the ones evidence and the audit chain were sealed with before it, by
 * a hand-written copy (test/geofence/evidence.test.ts checks packages sealed then), so old seals verify.
 *
 * One difference, kept out: JCS refuses strings with lone surrogates (I-JSON, RFC 7493 section 2.1),
 * and a JSON body can carry one into the registry (a site's name) and so into a violation's evidence.
 * Sealing must not fail, and a package sealed before must still verify, so such a value is written
 * as it always was: the library's form with each string as JSON.stringify escapes it (`\ud800`).
 */
export function canonicalJson(value: unknown): string {
  try {
    return canonicalize(value) ?? 'null';
  } catch (err) {
    if (!hasLoneSurrogate(value)) throw err;
    return escapedCanonicalJson(value);
  }
}

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasLoneSurrogate(v));
}

/** The fallback above: JCS's order and numbers, JSON.stringify's escapes for every string. */
function escapedCanonicalJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return canonicalize(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : escapedCanonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${escapedCanonicalJson(v)}`).join(',')}}`;
}

function resolve(ref: EntityRef, world: World): EvidenceEntity {
  switch (ref.kind) {
    case 'site':
      return { ref, entity: world.site(ref.id) ?? { missing: true } };
    case 'route':
      return { ref, entity: world.route(ref.id) ?? { missing: true } };
    case 'zone':
      return { ref, entity: world.zone(ref.id) ?? { missing: true } };
    case 'permit':
      // Permits are indexed by vehicle: buildEvidence resolves them through the violation's vehicle.
      return { ref, entity: { id: ref.id, missing: true } };
    case 'vehicle':
      return {
        ref,
        entity: (world.vehicle(ref.id) as unknown as Record<string, unknown>) ?? { missing: true },
      };
    case 'thresholds':
      return { ref, entity: { ...world.thresholds() } };
    default:
      // the plans (issue 15): collection points, sweep and duty plans, upload stations
      return {
        ref,
        entity: (world.planEntity(ref.kind, ref.id) as unknown as Record<string, unknown>) ?? {
          missing: true,
        },
      };
  }
}

/**
 * Builds and seals the package. `world` must be the world the violation was judged against (the
 * versions in `violation.refs` say which); `track` is the vehicle's fixes around the violation, in any
 * order (the store's track query).
 */
export function buildEvidence(violation: Violation, track: readonly Fix[], world: World): EvidencePackage {
  const from = violation.startTs - EVIDENCE_MARGIN_MS;
  const to = (violation.endTs ?? violation.startTs) + EVIDENCE_MARGIN_MS;
  const fixes = track
    .filter((f) => f.ts >= from && f.ts <= to)
    .slice()
    .sort((a, b) => a.ts - b.ts);
  const permits = world.permitsOf(violation.vehicle);
  const entities = violation.refs.map((ref) => {
    if (ref.kind === 'permit') {
      const permit = permits.find((p) => p.id === ref.id);
      return { ref, entity: permit ?? { id: ref.id, missing: true } };
    }
    return resolve(ref, world);
  });
  const body = { format: EVIDENCE_FORMAT, violation, fixes, entities } as const;
  return { ...body, sha256: sha256Hex(canonicalJson(body)) };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** true when the package's hash matches its contents (nothing was altered after sealing) */
export function verifyEvidence(pkg: EvidencePackage): boolean {
  const { sha256, ...body } = pkg;
  return sha256Hex(canonicalJson(body)) === sha256;
}
