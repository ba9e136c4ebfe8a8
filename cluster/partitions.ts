/**
 * How the cluster splits the fleet (pure: no I/O). Every accepted fix goes to one of a fixed number of
 * partitions, chosen by a stable hash of its UNIT (the vehicle id, or the device for a unit of its own):
 * the engine's state is keyed by unit (geofence/engine.ts), so all the fixes that move one unit's state
 * meet in one partition, in the order they were accepted, and one worker judges them. Partitioning by
 * device would split a vehicle with two terminals over two workers.
 *
 * The count is fixed for the life of the stream: changing it moves units between partitions, which is a
 * migration (drain the stream, then start with the new count), not a setting to flip.
 */

/** subject prefix of the fix stream: `citywatch.fix.<partition>` */
export const FIX_SUBJECT_PREFIX = 'citywatch.fix';

/** FNV-1a, 32 bits, over the UTF-16 code units: stable across processes, machines and Node versions */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function partitionOf(unit: string, partitions: number): number {
  return stableHash(unit) % partitions;
}

export function fixSubject(partition: number): string {
  return `${FIX_SUBJECT_PREFIX}.${partition}`;
}

/** the partition of a subject of the fix stream, or -1 */
export function partitionOfSubject(subject: string): number {
  if (!subject.startsWith(`${FIX_SUBJECT_PREFIX}.`)) return -1;
  const n = Number(subject.slice(FIX_SUBJECT_PREFIX.length + 1));
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/**
 * The JetStream message id of a fix (header Nats-Msg-Id): a fix is identified by its device and its
 * time (ingest's sequencer treats the same pair as a duplicate), so a device's retransmission through
 * another edge, or an edge's retried publish, is dropped by the stream's duplicate window instead of
 * being stored twice.
 */
export function fixMsgId(device: string, ts: number): string {
  return `${device}@${ts}`;
}
