import type { Client } from 'aedes';
import type { Device } from '../registry/types.ts';

/** Who an authenticated connection is: set once by auth.ts, read by the ACL, status and telemetry. */
export type Identity = { type: 'device'; device: Device } | { type: 'service'; username: string };

const identities = new WeakMap<Client, Identity>();

export function setIdentity(client: Client, identity: Identity): void {
  identities.set(client, identity);
}

/** undefined for a connection that has not (yet) authenticated */
export function identityOf(client: Client | null | undefined): Identity | undefined {
  return client ? identities.get(client) : undefined;
}
