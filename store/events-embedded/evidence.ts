/** The evidence packages of the embedded event store (../events-embedded.ts): table `evidence` (schema.ts). */
import type Database from 'better-sqlite3';
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../../geofence/evidence.ts';

export interface EvidenceRows {
  put: (pkg: EvidencePackage) => void;
  get: (violationId: string) => EvidencePackage | undefined;
}

export function prepareEvidence(db: Database.Database): EvidenceRows {
  const upsertEvidence = db.prepare(
    `INSERT INTO evidence (violation_id, sha256, bytes, body) VALUES (?, ?, ?, ?)
     ON CONFLICT (violation_id) DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes,
       body = excluded.body WHERE evidence.sha256 <> excluded.sha256 OR evidence.body <> excluded.body`,
  );
  const evidenceOf = db.prepare('SELECT sha256, body FROM evidence WHERE violation_id = ?');
  return {
    /** Refuses a package whose sha256 does not verify; the last package put for a violation wins. */
    put(pkg) {
      if (!verifyEvidence(pkg))
        throw new Error(`evidence of ${JSON.stringify(pkg.violation.id)} does not verify (sha256 mismatch)`);
      const text = canonicalJson(pkg);
      upsertEvidence.run(pkg.violation.id, pkg.sha256, Buffer.byteLength(text, 'utf8'), text);
    },
    get(violationId) {
      const row = evidenceOf.get(violationId) as { sha256: string; body: string } | undefined;
      if (!row) return undefined;
      const pkg = JSON.parse(row.body) as EvidencePackage;
      if (pkg.sha256 !== row.sha256 || !verifyEvidence(pkg))
        throw new Error(`evidence of ${JSON.stringify(violationId)} is corrupt (does not verify)`);
      return pkg;
    },
  };
}
