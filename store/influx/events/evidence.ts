/**
 * The evidence packages of the InfluxDB event store (../events.ts), stored here too (not only in the
 * embedded store) so that one backend holds everything.
 *
 *   evidence         A package can be megabytes while InfluxDB documents a 64 KB limit per string
 *                    field, so canonicalJson(package) is cut into parts of at most 16,384 UTF-16 units
 *                    (< 48 KiB of UTF-8, never inside a surrogate pair):
 *                    tags   code, firm, vehicle (those of the violation; its id is a field)
 *                    fields id, chunk (int), sha256, part; chunk 0 also carries chunks (int) and bytes
 *                    time   violation startTs ms + chunk ns
 *                    Chunk 0 is written last (its own request), and a read takes only the parts whose
 *                    sha256 equals chunk 0's, checks their count and verifies the package: a write cut
 *                    short reads as an error (never as a wrong package) until the caller's retry.
 */
import { canonicalJson, type EvidencePackage, verifyEvidence } from '../../../geofence/evidence.ts';
import { InfluxError } from '../http.ts';
import { type PointField, pointToLine } from '../lineprotocol.ts';
import { type EventPoints, int, MAX_SEQ, ns, parseViolationId, str } from './points.ts';

export const EVIDENCE_MEASUREMENT = 'evidence';
/** UTF-16 units per evidence part */
export const EVIDENCE_PART_UNITS = 16_384;

/** Cuts text into parts of at most `units` UTF-16 units, never between the halves of a surrogate pair. */
export function splitText(text: string, units = EVIDENCE_PART_UNITS): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(i + units, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - i > 1 && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(text.slice(i, end));
    i = end;
  }
  return parts.length ? parts : [''];
}

export class EvidencePoints {
  constructor(private readonly points: EventPoints) {}

  async put(pkg: EvidencePackage): Promise<void> {
    const v = pkg.violation;
    if (!verifyEvidence(pkg))
      throw new InfluxError(`evidence of ${JSON.stringify(v.id)} does not verify (sha256 mismatch)`, 400);
    const text = canonicalJson(pkg);
    const parts = splitText(text);
    if (parts.length > MAX_SEQ)
      throw new InfluxError(`evidence of ${JSON.stringify(v.id)} is too large`, 400);
    const tags: [string, string][] = [
      ['code', v.code],
      ['firm', v.firm],
      ['vehicle', v.vehicle],
    ];
    const line = (chunk: number): string => {
      const fields: [string, PointField][] = [
        ['id', str(v.id)],
        ['chunk', int(chunk)],
        ['sha256', str(pkg.sha256)],
      ];
      if (chunk === 0)
        fields.push(['chunks', int(parts.length)], ['bytes', int(Buffer.byteLength(text, 'utf8'))]);
      fields.push(['part', str(parts[chunk]!)]);
      return pointToLine(EVIDENCE_MEASUREMENT, tags, fields, ns(v.startTs, chunk));
    };
    const head = line(0); // encode everything before sending anything
    const others = parts.slice(1).map((_, i) => line(i + 1));
    await this.points.write(others);
    await this.points.write([head]);
  }

  async get(violationId: string): Promise<EvidencePackage | undefined> {
    const rows = await this.points.byId(
      EVIDENCE_MEASUREMENT,
      violationId,
      parseViolationId(violationId),
      '"chunk", "chunks", "sha256", "part"',
    );
    const head = rows.find((r) => Number(r.chunk) === 0 && typeof r.chunks === 'number');
    if (!head) return undefined;
    const sha = String(head.sha256);
    const chunks = Number(head.chunks);
    const parts = new Map<number, string>();
    for (const r of rows) {
      const chunk = Number(r.chunk);
      if (String(r.sha256) === sha && chunk < chunks) parts.set(chunk, String(r.part ?? ''));
    }
    const what = `evidence of ${JSON.stringify(violationId)}`;
    if (parts.size !== chunks)
      throw new InfluxError(`${what} is incomplete (${parts.size} of ${chunks} parts with sha256 ${sha})`);
    let text = '';
    for (let i = 0; i < chunks; i++) text += parts.get(i)!;
    const pkg = JSON.parse(text) as EvidencePackage;
    if (pkg.sha256 !== sha || !verifyEvidence(pkg)) throw new InfluxError(`${what} does not verify`);
    return pkg;
  }
}
