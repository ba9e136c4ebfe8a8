import type { Aedes, Client } from 'aedes';
import { identityOf } from './identity.ts';

/**
 * Ends the open MQTT connections of one device. Called when its secret is rotated, or it is disabled or
 * deleted: the broker checks credentials only at CONNECT, so without this a connection opened with the
 * old secret would keep publishing. The device reconnects and must then pass the new check.
 */
export function dropDeviceSessions(aedes: Aedes, deviceId: string): number {
  // aedes keeps its connected clients in `clients` by client id; its types do not declare it.
  const clients = (aedes as unknown as { clients: Record<string, Client> }).clients;
  let dropped = 0;
  for (const client of Object.values(clients)) {
    const identity = identityOf(client);
    if (identity?.type === 'device' && identity.device.id === deviceId) {
      client.close();
      dropped++;
    }
  }
  return dropped;
}
