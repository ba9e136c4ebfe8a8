/**
 * The world and helpers of the conventions tests (test/api/conventions*.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { call } from '../identity-world.ts';
import { ADMIN_TOKEN, LOOPBACK_WEBHOOKS, startTestPlatform, type TestPlatform } from '../platform.ts';

/**
 * The API's conventions (issue 4, "Conventions"), each implemented once for every route: idempotency
 * keys on POST and PATCH, ETags on cheap reads, cursor pages on every list, ISO-8601 instants on output,
 * request ids in answers, problem bodies and logs. Over real sockets against the real platform (SQLite
 * in a temporary DATA_DIR, restarted to show what is durable), and in-process where a log is read.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated field by field
export type Json = any;

export const dataDir = mkdtempSync(join(tmpdir(), 'citywatch-conventions-'));
export let tp: TestPlatform;

/** Restarts the platform on the same DATA_DIR (a test of what survives a restart). */
export async function restartPlatform(): Promise<void> {
  await tp.stop();
  tp = await startTestPlatform({ DATA_DIR: dataDir, API_RATE_LIMIT: '0', ...LOOPBACK_WEBHOOKS });
}
export const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(tp.httpUrl, method, path, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }), headers });
export const idem = (key: string) => ({ 'idempotency-key': key });

/** Registers the set-up and tear-down of the world in the calling test file (each file gets its own). */
export function setUp(): void {
  test.before(async () => {
    tp = await startTestPlatform({ DATA_DIR: dataDir, API_RATE_LIMIT: '0', ...LOOPBACK_WEBHOOKS });
  });
  test.after.always(async () => {
    await tp?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
}
