/** What every stress scenario gets and returns (stress/run.ts; one scenario per file in scenarios/). */
import type { Figure } from '../bench/types.ts';

export type { Figure };

export interface StressContext {
  /** reduced sizes, for a try-out of a few minutes */
  quick: boolean;
  /** progress for humans, to stderr (never stdout, whose last line is the JSON result) */
  progress(line: string): void;
}

export interface Scenario {
  /** short name used by --only, e.g. evidence-storm */
  name: string;
  description: string;
  /** figures (names unique over all scenarios); throws when the scenario could not run */
  run(ctx: StressContext): Promise<Figure[]>;
}
