import type Database from 'better-sqlite3';
import type { Jt808Binding } from '../types.ts';
import { RegistryConflictError } from './errors.ts';
import type { Statements } from './tables.ts';

/** A phone number as the registry keeps it: digits without leading zeros ("0" stays "0"). */
export function canonicalPhone(phone: string): string {
  // phone.replace(/^0+/, ''), without a regular expression: the gateway asks this for every report
  let zeros = 0;
  while (zeros < phone.length && phone.charCodeAt(zeros) === 48) zeros++;
  if (zeros === phone.length) return '0';
  return zeros === 0 ? phone : phone.slice(zeros);
}

/**
 * The JT/T 808 side of the device registry (gateway/jt808/) in memory: which device each terminal phone
 * binds, and which devices' registrations are closed (their authentication code has been used). The
 * closings asked for in one turn of the event loop are written in one transaction at the next.
 */
export class Jt808Terminals {
  /** device → binding */
  readonly bindings = new Map<string, Jt808Binding>();
  /** canonical phone → device */
  private readonly phones = new Map<string, string>();
  /** devices whose JT/T 808 registration is closed: when (epoch ms) their code was first used */
  readonly closed = new Map<string, number>();
  /** closings of `closed` not yet in the file: written together at the next turn (one fsync) */
  private readonly closingsPending = new Map<string, number>();
  private closingsBatch:
    | { written: Promise<void>; resolve: () => void; reject: (err: Error) => void }
    | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly stmt: Statements,
    /** after closings are durable: the devices whose records changed */
    private readonly written: (id: string) => void,
  ) {}

  /** Refuses (RegistryConflictError) a phone bound to another device. */
  checkPhoneFree(id: string, phone: string): void {
    const other = this.phones.get(phone);
    if (other !== undefined && other !== id) {
      throw new RegistryConflictError(`jt808 phone ${phone} is bound to device ${other}`);
    }
  }

  /** the device bound to a phone (already canonical) */
  deviceOfPhone(phone: string): string | undefined {
    return this.phones.get(phone);
  }

  remember(id: string, binding: Jt808Binding | undefined): void {
    const old = this.bindings.get(id);
    if (old !== undefined && this.phones.get(old.phone) === id) this.phones.delete(old.phone);
    if (binding === undefined) {
      this.bindings.delete(id);
      return;
    }
    this.bindings.set(id, binding);
    this.phones.set(binding.phone, id);
  }

  /** Closes a registration; the promise resolves when the closing is durable (see SqliteRegistry). */
  close(id: string, at: number): Promise<void> {
    if (this.closed.has(id)) {
      // closed already, or about to be written: durable with that write
      return this.closingsPending.has(id) && this.closingsBatch
        ? this.closingsBatch.written
        : Promise.resolve();
    }
    this.closed.set(id, at);
    this.closingsPending.set(id, at);
    if (this.closingsBatch === undefined) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const written = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.closingsBatch = { written, resolve, reject };
      setImmediate(() => this.writeClosings());
    }
    return this.closingsBatch.written;
  }

  /** writes the pending closings in one transaction (at the next turn, or at close()) */
  writeClosings(): void {
    const batch = this.closingsBatch;
    if (batch === undefined) return;
    this.closingsBatch = undefined;
    const rows = [...this.closingsPending];
    this.closingsPending.clear();
    try {
      this.db.transaction(() => {
        for (const [id, at] of rows) this.stmt.closeJt808Registration.run(id, at);
      })();
      batch.resolve();
      // durable: carried to the cluster's other nodes (a terminal that authenticated at one edge cannot
      // register again at another)
      for (const [id] of rows) this.written(id);
    } catch (err) {
      for (const [id, at] of rows) if (this.closed.get(id) === at) this.closed.delete(id);
      batch.reject(err as Error);
    }
  }

  /** the device's registration is open again (its secret, terminal or binding changed, or it is gone) */
  reopen(id: string): void {
    this.closed.delete(id);
    // a closing not written yet must not be written after the reopening
    this.closingsPending.delete(id);
  }

  /** the closing as the file has it (another process may have written it); one not written yet stays */
  reloadClosing(id: string): void {
    const row = this.stmt.selectJt808Registration.get(id) as { closed_at: number } | undefined;
    if (row !== undefined) this.closed.set(id, row.closed_at);
    else if (!this.closingsPending.has(id)) this.closed.delete(id);
  }
}
