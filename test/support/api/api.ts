/**
 * The world and helpers of the api tests (test/api/api*.test.ts).
 */

import test from 'ava';
import { ProblemSchema } from '../../../api/schemas.ts';
import { seededStore, type TestStore } from '../api-fixtures.ts';

export let seeded: TestStore;

/** Parse a problem response and check the RFC 9457 envelope. */
export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem: ${String(res.headers['content-type'])} ${res.body}`);
  }
  const body = ProblemSchema.parse(JSON.parse(res.body));
  if (body.status !== res.statusCode) throw new Error(`problem status ${body.status} != ${res.statusCode}`);
  return body;
}

/** Registers the set-up and tear-down of the world in the calling test file (each file gets its own). */
export function setUp(): void {
  test.before(async () => {
    seeded = await seededStore();
  });
  test.after.always(async () => {
    await seeded?.cleanup();
  });
}
