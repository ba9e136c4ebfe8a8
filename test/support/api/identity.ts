/**
 * The world and helpers of the identity tests (test/api/identity*.test.ts).
 */

import test from 'ava';
import type { MqttClient } from 'mqtt';
import { buildWorld, call, type World } from '../identity-world.ts';
import { ADMIN_TOKEN, connectClient, endClient } from '../platform.ts';

/**
 * API keys, roles and scopes, device credentials against the real embedded broker, rate limiting,
 * security headers and CORS: all through a real platform over real sockets.
 */

export let world: World;

export const asAdmin = (method: string, p: string, body?: unknown) =>
  call(world.url, method, p, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });

export async function refusal(url: string, username: string, password: string): Promise<number | undefined> {
  try {
    const client = await connectClient(url, { username, password });
    await endClient(client);
    return 0;
  } catch (err) {
    return (err as Error & { code?: number }).code;
  }
}

export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
}

/** Registers the set-up and tear-down of the world in the calling test file (each file gets its own). */
export function setUp(): void {
  test.before(async () => {
    world = await buildWorld();
  });
  test.after.always(async () => {
    await world?.close();
  });
}
