/**
 * Which representation of a track to send: the `format` parameter when given, else the Accept header
 * (RFC 9110 section 12.5.1: the most specific matching range gives a type its quality; the highest
 * quality wins, ties go to the order of TRACK_FORMATS). No Accept header, or one that accepts anything,
 * gives JSON. undefined means nothing acceptable (a 406).
 */
export const TRACK_FORMATS = ['json', 'geojson', 'csv', 'gpx'] as const;
export type TrackFormat = (typeof TRACK_FORMATS)[number];

export const TRACK_MEDIA_TYPES: Record<TrackFormat, string> = {
  json: 'application/json',
  geojson: 'application/geo+json',
  csv: 'text/csv',
  gpx: 'application/gpx+xml',
};

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [range, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const m = /^([a-z0-9!#$%&'*+.^_`|~-]+)\/([a-z0-9!#$%&'*+.^_`|~-]+)$/.exec(range ?? '');
    if (!m) continue;
    let q = 1;
    for (const p of params) {
      const qm = /^q=([01](\.\d{0,3})?)$/.exec(p);
      if (qm) q = Math.min(1, Number(qm[1]));
    }
    ranges.push({ type: m[1] as string, subtype: m[2] as string, q });
  }
  return ranges;
}

/** quality of a media type under the ranges: that of the most specific matching range, 0 if none */
function quality(mediaType: string, ranges: readonly MediaRange[]): number {
  const [type, subtype] = mediaType.split('/') as [string, string];
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity =
      r.type === type && r.subtype === subtype
        ? 2
        : r.type === type && r.subtype === '*'
          ? 1
          : r.type === '*' && r.subtype === '*'
            ? 0
            : -1;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

export function chooseTrackFormat(
  format: TrackFormat | undefined,
  accept: string | undefined,
): TrackFormat | undefined {
  return chooseFormat(TRACK_MEDIA_TYPES, format, accept);
}

/**
 * The same choice for any set of representations (the evidence package too): `mediaTypes` in order of
 * preference, its first entry the default.
 */
export function chooseFormat<F extends string>(
  mediaTypes: Readonly<Record<F, string>>,
  format: F | undefined,
  accept: string | undefined,
): F | undefined {
  if (format !== undefined) return format;
  const formats = Object.keys(mediaTypes) as F[];
  const fallback = formats[0];
  if (accept === undefined || accept.trim() === '') return fallback;
  const ranges = parseAccept(accept);
  // An Accept header with nothing parseable in it is treated as absent rather than as a refusal.
  if (ranges.length === 0) return fallback;
  let chosen: F | undefined;
  let bestQ = 0;
  for (const f of formats) {
    const q = quality(mediaTypes[f], ranges);
    if (q > bestQ) {
      chosen = f;
      bestQ = q;
    }
  }
  return chosen;
}
