import type { Fix } from '../core/fix.ts';

/**
 * Per-device duplicate suppression and late marking.
 *
 * A QoS 1 redelivery (or a device resending after a lost PUBACK) repeats a fix with the same
 * (device, ts); it is dropped here and, should one slip past the window, the store's (vehicle, ts) key
 * keeps it single. A fix older than the newest one already seen from its device is kept but marked
 * `late`, so downstream consumers that need time order (the geofence engine) can tell.
 *
 * State is a few numbers per device: nothing couples two devices.
 */
const RECENT_WINDOW = 32;

interface DeviceSequence {
  newestTs: number;
  /** ring buffer of the last RECENT_WINDOW accepted timestamps */
  recent: number[];
  next: number;
}

export type SequenceVerdict = 'in_order' | 'late' | 'duplicate';

export class Sequencer {
  private readonly devices = new Map<string, DeviceSequence>();

  /** Seed from stored state after a restart (newest stored ts per device). */
  prime(device: string, newestTs: number): void {
    const seq = this.devices.get(device);
    if (seq === undefined) this.devices.set(device, { newestTs, recent: [newestTs], next: 0 });
    else if (newestTs > seq.newestTs) seq.newestTs = newestTs;
  }

  /** Classifies the fix and, unless it is a duplicate, records it and sets `fix.late`. */
  admit(fix: Fix): SequenceVerdict {
    const seq = this.devices.get(fix.device);
    if (seq === undefined) {
      this.devices.set(fix.device, { newestTs: fix.ts, recent: [fix.ts], next: 0 });
      return 'in_order';
    }
    if (fix.ts === seq.newestTs || seq.recent.includes(fix.ts)) return 'duplicate';
    if (seq.recent.length < RECENT_WINDOW) seq.recent.push(fix.ts);
    else {
      seq.recent[seq.next] = fix.ts;
      seq.next = (seq.next + 1) % RECENT_WINDOW;
    }
    if (fix.ts > seq.newestTs) {
      seq.newestTs = fix.ts;
      return 'in_order';
    }
    fix.late = true;
    return 'late';
  }

  /**
   * Undoes admit() for a fix that could not be made durable (its spool append failed): without this the
   * device's resend of the same message would be dropped as a duplicate and acknowledged, and the fix
   * lost. The newest timestamp falls back to the newest one still remembered.
   */
  forget(fix: Fix): void {
    const seq = this.devices.get(fix.device);
    if (seq === undefined) return;
    const i = seq.recent.lastIndexOf(fix.ts);
    // -Infinity never equals a fix's ts (validated finite) and sorts below all of them
    if (i >= 0) seq.recent[i] = Number.NEGATIVE_INFINITY;
    if (seq.newestTs === fix.ts) {
      const newest = Math.max(...seq.recent);
      if (newest === Number.NEGATIVE_INFINITY) this.devices.delete(fix.device);
      else seq.newestTs = newest;
    }
  }

  size(): number {
    return this.devices.size;
  }
}
