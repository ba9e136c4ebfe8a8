import { createHash } from 'node:crypto';
import { canonicalJson } from '../../geofence/evidence.ts';

/**
 * The tamper evidence of the audit log, pure: each record's hash is SHA-256 over its canonical JSON,
 * which includes the previous record's hash, so changing, removing or reordering any record breaks
 * every hash after it. What a chain cannot show by itself is a cut at its end (the newest records
 * removed): GET /audit/verify answers the head (last seq and hash) for an operator to keep elsewhere.
 *
 * Canonical JSON is the evidence seal's (RFC 8785, geofence/evidence.ts): object keys sorted, no
 * whitespace, `undefined` members left out, so the same value always gives the same bytes and digests
 * compare; the records chained before it took the library verify unchanged.
 */

export { canonicalJson };

export const GENESIS_HASH = '0'.repeat(64);

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The digest of an entity's state (`sha256:` + hex), or null where there is none (before a creation). */
export function stateDigest(state: unknown): string | null {
  return state === undefined || state === null ? null : `sha256:${sha256(canonicalJson(state))}`;
}

/** What a record's hash covers: every field but the hash itself. */
export interface ChainedFields {
  seq: number;
  at: string;
  requestId: string | null;
  actor: string;
  keyId: string;
  role: string;
  firm: string | null;
  ip: string | null;
  action: string;
  entityKind: string;
  entityId: string;
  before: string | null;
  after: string | null;
  status: number | null;
  prevHash: string;
}

export function recordHash(fields: ChainedFields): string {
  return sha256(canonicalJson(fields));
}

export interface ChainVerdict {
  valid: boolean;
  records: number;
  /** the last record: keep its hash elsewhere to detect a cut at the end later */
  head?: { seq: number; hash: string; at: string };
  /** the first record that does not hold */
  firstInvalid?: { seq: number; reason: 'hash' | 'link' | 'sequence' };
}

/** Walks the records oldest first and stops at the first one that does not hold. */
export function verifyChain(records: Iterable<ChainedFields & { hash: string }>): ChainVerdict {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  let head: ChainVerdict['head'];
  for (const r of records) {
    const fail = (reason: 'hash' | 'link' | 'sequence'): ChainVerdict => ({
      valid: false,
      records: count,
      ...(head ? { head } : {}),
      firstInvalid: { seq: r.seq, reason },
    });
    if (r.prevHash !== prev) return fail('link');
    if (r.seq !== expectedSeq) return fail('sequence');
    const { hash, ...fields } = r;
    if (recordHash(fields) !== hash) return fail('hash');
    prev = hash;
    expectedSeq = r.seq + 1;
    count++;
    head = { seq: r.seq, hash, at: r.at };
  }
  return { valid: true, records: count, ...(head ? { head } : {}) };
}
