import type { ComplianceChange } from './types.ts';

/**
 * Who hears of the compliance registry's committed changes (registry/compliance.ts onChange; the
 * platform recompiles the World on each). A change is told once it is committed: at once for a single
 * write, or, inside a batch, all together once the batch's transaction has committed (nothing when it
 * failed). A listener that throws is reported to `onListenerError` and the others are still told.
 */
export class ComplianceChanges {
  private readonly listeners = new Set<(change: ComplianceChange) => void>();
  /** changes written inside a batch, told to the listeners once it has committed */
  private held: ComplianceChange[] | undefined;

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  /** Adds a listener; returns what removes it. */
  subscribe(listener: (change: ComplianceChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** whether a batch is under way */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** A batch starts: changes are held until `release` (or dropped by `discard`). */
  hold(): void {
    this.held = [];
  }

  /** A committed change: told now, or at the end of the batch under way. */
  changed(change: ComplianceChange): void {
    if (this.held !== undefined) this.held.push(change);
    else this.notify(change);
  }

  /** The batch committed: its changes are told, in order. */
  release(): void {
    const changes = this.held ?? [];
    this.held = undefined;
    for (const change of changes) this.notify(change);
  }

  /** The batch failed: nothing of it is told. */
  discard(): void {
    this.held = undefined;
  }

  clear(): void {
    this.listeners.clear();
  }

  private notify(change: ComplianceChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
