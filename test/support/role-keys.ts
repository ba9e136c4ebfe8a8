import type { ApiKeyResolver, Principal } from '../../api/principal.ts';

/**
 * Bearer secrets of one key per role, resolved by a plain in-memory ApiKeyResolver (the port the auth
 * hook calls; the real key store is registry/api-keys.ts). Tests of role behaviour pass `KEYS` to
 * buildApi as `keys` and send `as('monitor')` as headers.
 */
const PRINCIPALS = {
  admin: { keyId: 'key-admin', role: 'admin', scopes: [] },
  monitor: { keyId: 'key-monitor', role: 'monitor', scopes: [] },
  firmA: { keyId: 'key-firm-a', role: 'firm', firm: 'firm-a', scopes: [] },
  firmB: { keyId: 'key-firm-b', role: 'firm', firm: 'firm-b', scopes: [] },
} as const satisfies Record<string, Principal>;

export type RoleKey = keyof typeof PRINCIPALS;

const secretOf = (who: RoleKey) => `secret-${who}-0123456789`;

export const KEYS: ApiKeyResolver = {
  resolve: (secret) =>
    (Object.keys(PRINCIPALS) as RoleKey[])
      .map((k) => (secretOf(k) === secret ? PRINCIPALS[k] : undefined))
      .find(Boolean),
};

/** Authorization header of the key of `who`. */
export const as = (who: RoleKey) => ({ authorization: `Bearer ${secretOf(who)}` });

/** The key id recorded as the actor of that key's changes. */
export const keyIdOf = (who: RoleKey): string => PRINCIPALS[who].keyId;
