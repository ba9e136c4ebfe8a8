/**
 * A small HDR-style latency histogram: values in microseconds, exact below 128 µs, then 64 linear
 * sub-buckets per power of two (relative error under 1.6 %). O(1) record, fixed memory, mergeable.
 */

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // 64
const EXACT = SUB * 2; // values below 128 are exact
const MAX_EXP = 44; // up to 2^50 µs, far beyond any latency

export interface LatencySummaryMs {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function bucketOf(us: number): number {
  if (us < EXACT) return us;
  const e = Math.floor(Math.log2(us)) - SUB_BITS; // >= 1
  const sub = Math.floor(us / 2 ** e); // 64..127
  return SUB * e + sub;
}

/** Midpoint of a bucket, µs. */
function bucketValue(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const e = Math.floor(bucket / SUB) - 1;
  const sub = bucket - SUB * e;
  const width = 2 ** e;
  return sub * width + width / 2;
}

/** LatencyHistogram.snapshot(): JSON-safe, for IPC */
export interface HistogramSnapshot {
  buckets: [number, number][];
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(SUB * (MAX_EXP + 2));
  count = 0;
  private sumUs = 0;
  private minUs = Number.POSITIVE_INFINITY;
  private maxUs = 0;

  /** Records one latency in milliseconds. */
  recordMs(ms: number): void {
    const us = Math.max(0, Math.round(ms * 1000));
    const b = Math.min(bucketOf(us), this.counts.length - 1);
    this.counts[b] = (this.counts[b] as number) + 1;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** A plain copy (non-zero buckets only) to send to another process; fromSnapshot() reads it back. */
  snapshot(): HistogramSnapshot {
    const buckets: [number, number][] = [];
    this.counts.forEach((n, i) => {
      if (n > 0) buckets.push([i, n]);
    });
    return { buckets, count: this.count, sumUs: this.sumUs, minUs: this.minUs, maxUs: this.maxUs };
  }

  static fromSnapshot(s: HistogramSnapshot): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const [i, n] of s.buckets) if (i >= 0 && i < h.counts.length) h.counts[i] = n;
    h.count = s.count;
    h.sumUs = s.sumUs;
    // Infinity does not survive JSON (it arrives as null): an empty histogram's min is restored here
    h.minUs = s.count > 0 && typeof s.minUs === 'number' ? s.minUs : Number.POSITIVE_INFINITY;
    h.maxUs = s.maxUs;
    return h;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++)
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  /** The q-quantile (0..1) in milliseconds; 0 when empty. */
  quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return Math.min(this.maxUs, Math.max(this.minUs, bucketValue(i))) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummaryMs | null {
    if (this.count === 0) return null;
    const r = (v: number) => Math.round(v * 1000) / 1000;
    return {
      count: this.count,
      min: r(this.minUs / 1000),
      mean: r(this.sumUs / this.count / 1000),
      p50: r(this.quantileMs(0.5)),
      p90: r(this.quantileMs(0.9)),
      p99: r(this.quantileMs(0.99)),
      p999: r(this.quantileMs(0.999)),
      max: r(this.maxUs / 1000),
    };
  }
}
