/**
 * The spool's checkpoint (ingest/spool.ts): the position up to which the store pump has stored the
 * records, kept durable in `checkpoint.json` (written to a temporary file, fdatasync'ed, renamed over).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { SpoolPosition } from './segment-file.ts';

export async function loadCheckpoint(dir: string): Promise<SpoolPosition | undefined> {
  try {
    const raw = JSON.parse(await fsp.readFile(path.join(dir, 'checkpoint.json'), 'utf8')) as SpoolPosition;
    if (Number.isInteger(raw.segment) && Number.isInteger(raw.offset)) return raw;
  } catch {
    // no checkpoint yet
  }
  return undefined;
}

export async function saveCheckpoint(dir: string, pos: SpoolPosition): Promise<void> {
  const tmp = path.join(dir, 'checkpoint.json.tmp');
  await fsp.writeFile(tmp, JSON.stringify(pos));
  const fh = await fsp.open(tmp, 'r+');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path.join(dir, 'checkpoint.json'));
}
