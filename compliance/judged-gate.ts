/**
 * The gate between the store pump and the compliance service (compliance/service.ts): the pump notes
 * how many deliveries (onFixes calls) it had made when it read a batch (`mark`), and moves the spool's
 * checkpoint only once the commit covering them is done (`whenJudged`), so a crash never leaves a fix
 * stored but not judged. A failed commit does not hold the pump, and neither does a stopped service.
 */
export class JudgedGate {
  /** onFixes calls so far, and how many of them the last commit covered */
  private delivered = 0;
  private through = 0;
  private waiters: { mark: number; resolve: () => void }[] = [];

  /** one more delivery */
  delivery(): void {
    this.delivered++;
  }

  /** how many deliveries so far */
  mark(): number {
    return this.delivered;
  }

  /** whether the judgement of the first `mark` deliveries is committed */
  covers(mark: number): boolean {
    return mark <= this.through;
  }

  /** the commit covering the first `through` deliveries is done (or failed): the pump may move on */
  judged(through: number): void {
    this.through = through;
    if (this.waiters.length === 0) return;
    const waiting: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.mark <= through) w.resolve();
      else waiting.push(w);
    }
    this.waiters = waiting;
  }

  /** resolves once `mark` is covered */
  wait(mark: number): Promise<void> {
    if (this.covers(mark)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ mark, resolve }));
  }

  /** a service that has stopped judging must not hold a pump waiting for it */
  releaseAll(): void {
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }
}
