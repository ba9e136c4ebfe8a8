/**
 * Reading the spool (ingest/spool.ts): the store pump's cursor, which moves ahead of the checkpoint and
 * back to it on a rewind, and the replay of everything after the checkpoint at a start.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import {
  READ_CHUNK_BYTES,
  readAt,
  type SegmentSet,
  type SpoolPosition,
  splitRecords,
} from './segment-file.ts';

export interface SpoolBatch {
  records: string[];
  /** position just after the last record of the batch: commit it once the batch is stored */
  end: SpoolPosition;
}

export class SpoolReader {
  private cursor: SpoolPosition = { segment: 1, offset: 0 };
  private fd = -1;
  private fdSegment = -1;

  constructor(private readonly segments: SegmentSet) {}

  /**
   * Reads up to `maxRecords` durable records after the cursor and advances it. Returns undefined when
   * there is nothing new.
   */
  async read(maxRecords: number): Promise<SpoolBatch | undefined> {
    const segs = this.segments;
    for (;;) {
      const seg = this.cursor.segment;
      const end = segs.durableEnd(seg);
      if (end === undefined) {
        // The cursor's segment is gone (consumed and deleted): move to the next existing one.
        const next = segs.nextSegmentAfter(seg);
        if (next === undefined) return undefined;
        this.cursor = { segment: next, offset: 0 };
        continue;
      }
      if (this.cursor.offset >= end) {
        if (seg >= segs.active) return undefined;
        const next = segs.nextSegmentAfter(seg);
        if (next === undefined) return undefined;
        this.cursor = { segment: next, offset: 0 };
        continue;
      }
      const length = Math.min(end - this.cursor.offset, READ_CHUNK_BYTES);
      const buf = Buffer.allocUnsafe(length);
      const fd = this.fdFor(seg);
      const got = await readAt(fd, buf, this.cursor.offset);
      const { records, consumed } = splitRecords(buf.subarray(0, got), maxRecords);
      if (consumed === 0) {
        // A single record larger than the read chunk cannot happen (payloads are capped far below it),
        // so this is an incomplete tail of a sealed segment: skip it rather than stall forever.
        this.cursor = { segment: seg, offset: end };
        continue;
      }
      this.cursor = { segment: seg, offset: this.cursor.offset + consumed };
      return { records, end: { ...this.cursor } };
    }
  }

  /**
   * The durable records after `from`, oldest first, read apart from the cursor (a descriptor of its own
   * per segment).
   */
  async *replay(from: SpoolPosition, maxRecords: number): AsyncGenerator<string[]> {
    const segs = this.segments;
    let pos: SpoolPosition = { ...from };
    let fd: fs.promises.FileHandle | undefined;
    let fdSegment = -1;
    try {
      for (;;) {
        const seg = pos.segment;
        const end = segs.durableEnd(seg);
        if (end === undefined || pos.offset >= end) {
          if (end !== undefined && seg >= segs.active) return;
          const next = segs.nextSegmentAfter(seg);
          if (next === undefined) return;
          pos = { segment: next, offset: 0 };
          continue;
        }
        if (fdSegment !== seg) {
          await fd?.close();
          fd = await fsp.open(segs.file(seg), 'r');
          fdSegment = seg;
        }
        const buf = Buffer.allocUnsafe(Math.min(end - pos.offset, READ_CHUNK_BYTES));
        const { bytesRead } = await fd!.read(buf, 0, buf.length, pos.offset);
        const { records, consumed } = splitRecords(buf.subarray(0, bytesRead), maxRecords);
        // an incomplete tail of a sealed segment (see read): skip it
        pos = { segment: seg, offset: consumed === 0 ? end : pos.offset + consumed };
        if (records.length > 0) yield records;
      }
    } finally {
      await fd?.close();
    }
  }

  /** Moves the cursor to `pos` (the checkpoint: at the start, and when a batch must be read again). */
  rewind(pos: SpoolPosition): void {
    this.cursor = { ...pos };
  }

  /** Lets go of segment `n` (about to be deleted). */
  release(n: number): void {
    if (this.fdSegment === n) this.close();
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.fdSegment = -1;
  }

  private fdFor(n: number): number {
    if (this.fdSegment !== n) {
      this.close();
      this.fd = fs.openSync(this.segments.file(n), 'r');
      this.fdSegment = n;
    }
    return this.fd;
  }
}
