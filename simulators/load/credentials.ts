import { readFile } from 'node:fs/promises';
import type { LoadCredential, LoadOptions } from './options.ts';

/** Generated credentials: `${prefix}00001`.. (from start + 1); password pattern with {id} and {n}. */
export function generateCredentials(
  count: number,
  prefix = 'load-',
  password = '{id}',
  start = 0,
): LoadCredential[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(start + i + 1).padStart(5, '0');
    const id = `${prefix}${n}`;
    return { id, password: password.replaceAll('{id}', id).replaceAll('{n}', n) };
  });
}

/**
 * Reads credentials from JSON: an array of `{id, secret}` or `{id, password}` (NewDevice[] works), or an
 * object with such an array under `devices`.
 */
export async function readCredentialsFile(path: string): Promise<LoadCredential[]> {
  const data: unknown = JSON.parse(await readFile(path, 'utf8'));
  const list = Array.isArray(data) ? data : (data as { devices?: unknown }).devices;
  if (!Array.isArray(list)) throw new Error(`${path}: expected an array of {id, secret} or {devices: [...]}`);
  return list.map((item, i) => {
    const o = item as { id?: unknown; secret?: unknown; password?: unknown };
    const password = o.password ?? o.secret;
    if (typeof o.id !== 'string' || typeof password !== 'string') {
      throw new Error(`${path}: entry ${i} needs a string id and a string secret (or password)`);
    }
    return { id: o.id, password };
  });
}

/**
 * The vehicles of one process's run: the first `connections` of the credentials given, or that many
 * generated ones numbered from `indexOffset` + 1 (1000 by default).
 */
export function runCredentials(
  opts: Pick<LoadOptions, 'credentials' | 'connections' | 'prefix' | 'password' | 'indexOffset'>,
): LoadCredential[] {
  const creds =
    opts.credentials !== undefined
      ? opts.credentials.slice(0, opts.connections ?? opts.credentials.length)
      : generateCredentials(
          opts.connections ?? 1000,
          opts.prefix ?? 'load-',
          opts.password ?? '{id}',
          opts.indexOffset ?? 0,
        );
  if (opts.credentials && opts.connections !== undefined && opts.connections > opts.credentials.length) {
    throw new Error(
      `${opts.connections} connections requested but only ${opts.credentials.length} credentials given`,
    );
  }
  return creds;
}
