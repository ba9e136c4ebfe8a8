import { canonicalJson, sha256Hex } from '../geofence/evidence.ts';

/**
 * Checks an evidence package someone holds (POST /evidence/verify). Two questions, because a hash alone
 * only proves that nothing changed since *someone* sealed the package:
 *  1. does the package's `sha256` match its contents? (recomputed over the canonical JSON of the package
 *     without `sha256`, as geofence/evidence.ts seals it)
 *  2. is it the package the platform sealed? (compared with the stored record, when the caller may see
 *     that violation): this catches a package altered and then re-sealed with a fresh hash.
 * When either fails and the record is at hand, the members that differ are named as JSON pointers. Pure.
 */

export const EVIDENCE_HASH_ALGORITHM =
  'sha256 (hex) over the canonical JSON (keys sorted, no whitespace) of the package without its sha256 member';

/** At most this many differing members are listed (a wholesale change would list thousands). */
export const MAX_DIFFERENCES = 50;

export interface Difference {
  /** JSON pointer into the package */
  pointer: string;
  message: string;
}

export interface EvidenceVerification {
  /** the hash matches the contents, and the contents match the platform's record when it is known */
  verified: boolean;
  /** recomputed === claimed */
  hashValid: boolean;
  claimed: string;
  recomputed: string;
  algorithm: string;
  /**
   * matches: the platform sealed exactly this package; differs: it sealed another one for this violation;
   * unknown: no record of it that this key may see (unknown violation, another firm's, or not built yet)
   */
  record: 'matches' | 'differs' | 'unknown';
  /** the record's hash, when record is matches or differs */
  recordSha256?: string;
  /** members that differ from the record (only when the record is known and differs) */
  differences: Difference[];
  /** a sentence saying why it does or does not verify */
  reason: string;
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const escapePointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
const show = (v: Json): string => {
  if (v === undefined) return 'absent';
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** Where `got` differs from `want`, as JSON pointers (depth first, keys in sorted order). */
export function jsonDifferences(got: Json, want: Json, at = '', out: Difference[] = []): Difference[] {
  if (out.length >= MAX_DIFFERENCES) return out;
  if (Array.isArray(got) && Array.isArray(want)) {
    if (got.length === want.length) {
      for (let i = 0; i < got.length && out.length < MAX_DIFFERENCES; i++) {
        jsonDifferences(got[i], want[i], `${at}/${i}`, out);
      }
      return out;
    }
    // Items removed or added: compared element by element, one missing fix would make every later one
    // differ. The equal prefix and suffix are skipped; what lies between is named item by item.
    out.push({ pointer: at, message: `${got.length} items; the record has ${want.length}` });
    const same = (i: number, j: number) => canonicalJson(got[i]) === canonicalJson(want[j]);
    let prefix = 0;
    while (prefix < got.length && prefix < want.length && same(prefix, prefix)) prefix++;
    let suffix = 0;
    while (
      suffix < got.length - prefix &&
      suffix < want.length - prefix &&
      same(got.length - 1 - suffix, want.length - 1 - suffix)
    ) {
      suffix++;
    }
    const gotEnd = got.length - suffix;
    const wantEnd = want.length - suffix;
    const paired = Math.min(gotEnd, wantEnd);
    for (let i = prefix; i < paired && out.length < MAX_DIFFERENCES; i++) {
      jsonDifferences(got[i], want[i], `${at}/${i}`, out);
    }
    for (let i = paired; i < gotEnd && out.length < MAX_DIFFERENCES; i++) {
      out.push({ pointer: `${at}/${i}`, message: 'not in the record' });
    }
    for (let j = paired; j < wantEnd && out.length < MAX_DIFFERENCES; j++) {
      out.push({ pointer: `${at}/${j}`, message: `missing (the record has ${show(want[j])})` });
    }
    return out;
  }
  if (isObject(got) && isObject(want)) {
    const keys = [...new Set([...Object.keys(got), ...Object.keys(want)])].sort();
    for (const key of keys) {
      if (out.length >= MAX_DIFFERENCES) break;
      const pointer = `${at}/${escapePointer(key)}`;
      if (!(key in want)) out.push({ pointer, message: 'not in the record' });
      else if (!(key in got)) out.push({ pointer, message: 'missing (the record has it)' });
      else jsonDifferences(got[key], want[key], pointer, out);
    }
    return out;
  }
  if (canonicalJson(got) !== canonicalJson(want)) {
    out.push({ pointer: at, message: `${show(got)}; the record has ${show(want)}` });
  }
  return out;
}

export interface SealedLike {
  sha256: string;
  [member: string]: unknown;
}

export function verifyEvidencePackage(pkg: SealedLike, record?: SealedLike): EvidenceVerification {
  const { sha256: claimed, ...body } = pkg;
  const recomputed = sha256Hex(canonicalJson(body));
  const hashValid = recomputed === claimed;
  const base = { hashValid, claimed, recomputed, algorithm: EVIDENCE_HASH_ALGORITHM };

  if (record === undefined) {
    return {
      ...base,
      verified: hashValid,
      record: 'unknown',
      differences: [],
      reason: hashValid
        ? 'The hash matches the contents. The platform has no record of this package that this key may see, so it cannot confirm that the platform sealed it.'
        : 'The hash does not match the contents: a member was changed after sealing. Without the platform’s record (unknown violation, or not visible to this key) the changed member cannot be named.',
    };
  }

  const { sha256: recordSha256, ...recordBody } = record;
  const same = canonicalJson(body) === canonicalJson(recordBody) && claimed === recordSha256;
  if (same) {
    return {
      ...base,
      verified: hashValid,
      record: 'matches',
      recordSha256,
      differences: [],
      reason: hashValid
        ? 'The hash matches the contents, and the contents are the package the platform sealed.'
        : 'The package equals the platform’s record but its hash does not match: the record itself is damaged.',
    };
  }
  const differences = jsonDifferences(body, recordBody);
  if (claimed !== recordSha256 && differences.length < MAX_DIFFERENCES) {
    differences.push({
      pointer: '/sha256',
      message: `${show(claimed)}; the record has ${show(recordSha256)}`,
    });
  }
  return {
    ...base,
    verified: false,
    record: 'differs',
    recordSha256,
    differences,
    reason: hashValid
      ? 'The hash matches the contents, but the contents are not what the platform sealed: the package was changed and sealed again. See differences.'
      : 'The hash does not match the contents: the members listed in differences were changed after sealing.',
  };
}
