/**
 * A condition sustained over steps, for the plans oracle (plans.ts): its own small state machine, not the
 * engine's. It qualifies after `minSteps` steps and `minMs`; once qualified it ends at the first step of a
 * return (not 'on') lasting `backMs`, or at an 'end' reading; an unqualified one is dropped at the first
 * step not 'on'. 'skip' steps are not counted.
 */

export type Reading = 'on' | 'off' | 'end' | 'skip';

export interface EpisodeRule {
  minMs: number;
  minSteps: number;
  backMs: number;
}

export class Episode {
  private start = -1;
  private steps = 0;
  private qualified = false;
  private back = -1;

  constructor(
    private readonly rule: () => EpisodeRule,
    private readonly emit: (start: number, end: number | undefined) => void,
  ) {}

  get active(): boolean {
    return this.start >= 0;
  }

  step(reading: Reading, ts: number): void {
    if (reading === 'skip') return;
    const r = this.rule();
    if (reading === 'on') {
      if (this.start < 0) {
        this.start = ts;
        this.steps = 0;
        this.qualified = false;
      }
      this.steps++;
      this.back = -1;
      if (!this.qualified && this.steps >= r.minSteps && ts - this.start >= r.minMs) this.qualified = true;
      return;
    }
    if (this.start < 0) return;
    if (!this.qualified) {
      this.start = -1;
      return;
    }
    if (this.back < 0) this.back = ts;
    if (reading === 'end' || ts - this.back >= r.backMs) {
      this.emit(this.start, this.back);
      this.start = -1;
      this.back = -1;
    }
  }

  finish(): void {
    if (this.start >= 0 && this.qualified) this.emit(this.start, this.back >= 0 ? this.back : undefined);
    this.start = -1;
  }
}
