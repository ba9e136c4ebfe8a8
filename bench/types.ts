/** What every benchmark gets and returns. */

export interface BenchContext {
  /** reduced sizes: the whole quick run fits in about 3 minutes */
  quick: boolean;
  /** progress for humans, to stderr (never stdout, whose last line is the JSON result) */
  progress(line: string): void;
  /** the figures of the benchmarks that ran before in this run (a ratio reads its baseline here) */
  figures?: Readonly<Record<string, number>>;
}

export interface Figure {
  /** snake_case, unique over all benchmarks, e.g. raw_broker_puback_msgs_per_s */
  name: string;
  value: number;
  /** e.g. msg/s, ms, connections */
  unit: string;
  /** how it was measured, in a few words */
  note?: string;
}

export interface Benchmark {
  /** short name used by --only, e.g. raw-broker */
  name: string;
  description: string;
  /** why it cannot fit the 3-minute quick run: then `--quick` leaves it out unless `--only` names it */
  notInQuickRun?: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}
