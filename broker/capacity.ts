import type { Client } from 'aedes';
import type { Logger } from 'pino';
import { LogThrottle } from '../ingest/log-throttle.ts';
import { type AuthenticateHandler, CONNACK, refusal } from './auth.ts';
import type { BrokerCounters, BrokerStats } from './metrics.ts';

/**
 * The broker's connection cap (MQTT_MAX_CONNECTIONS): every connection is a file descriptor, and a
 * process out of descriptors fails everywhere at once (spool, SQLite, API), so the broker refuses
 * connections beyond its share instead (broker/open-files.ts derives the default).
 *
 * A connection counts from its CONNECT until its socket closes, whatever its outcome (refused
 * credentials included, until aedes has closed it). Over the cap its CONNECT is answered with CONNACK
 * return code 3, "Server unavailable": "The Network Connection has been made but the MQTT service is
 * unavailable" (MQTT 3.1.1 section 3.2.2.3, table 3.1), and the connection is closed [MQTT-3.2.2-5].
 * The device's client reports the code and retries later; credentials are not checked (no scrypt is
 * spent on a connection that is refused anyway).
 *
 * Sockets that never send CONNECT are not counted here: the listeners close sockets at accept beyond
 * the cap plus socketMargin(cap) (listeners.ts), so they cannot exhaust the descriptors either.
 */
export class ConnectionCap<K> {
  private readonly admitted = new Set<K>();

  constructor(readonly max: number) {}

  /** true and counted when there is room; false at the cap */
  admit(key: K): boolean {
    if (this.admitted.size >= this.max) return false;
    this.admitted.add(key);
    return true;
  }

  release(key: K): void {
    this.admitted.delete(key);
  }

  get count(): number {
    return this.admitted.size;
  }

  get full(): boolean {
    return this.admitted.size >= this.max;
  }
}

/**
 * Sockets accepted beyond the cap, so that devices over it can read their CONNACK 3 (and sockets still
 * before their CONNECT): 2.5 % of the cap, at least 16. The open-files reserve covers it.
 */
export function socketMargin(maxConnections: number): number {
  return Math.max(16, Math.ceil(maxConnections * 0.025));
}

export interface CapacityGateDeps {
  cap: ConnectionCap<Client>;
  counters: BrokerCounters;
  logger: Logger;
}

/** Wraps the authenticate hook: CONNACK 3 over the cap, else admission and the wrapped check. */
export function gateOnCapacity(
  authenticate: AuthenticateHandler,
  deps: CapacityGateDeps,
): AuthenticateHandler {
  const { cap, counters, logger } = deps;
  const throttle = new LogThrottle();
  return (client, username, password, done) => {
    if (!cap.admit(client)) {
      counters.connectionRefused('capacity');
      const n = throttle.hit();
      if (n > 0) {
        logger.warn(
          { refused: n, maxConnections: cap.max, totalRefused: counters.stats.connectionsRefused.capacity },
          'mqtt connection cap reached: CONNECT refused with CONNACK 3 (server unavailable)',
        );
      }
      done(refusal(CONNACK.SERVER_UNAVAILABLE), false);
      return;
    }
    // aedes destroys the connection's stream however the client ends; 'close' follows exactly once.
    const conn = client.conn as { closed?: boolean; once(event: 'close', fn: () => void): void };
    if (conn.closed === true) cap.release(client);
    else conn.once('close', () => cap.release(client));
    authenticate(client, username, password, done);
  };
}

/**
 * The broker's room for /healthz: the cap, the connections counted against it, the refusals so far,
 * and 'degraded' while at the cap (new devices are being turned away). Pure.
 */
export function capacityHealth(
  s: Pick<BrokerStats, 'maxConnections' | 'admittedConnections' | 'connectionsRefused'>,
): {
  state: 'ok' | 'degraded';
  detail?: string;
  figures: { maxConnections: number; refusedConnections: number; droppedSockets: number };
} {
  const figures = {
    maxConnections: s.maxConnections,
    refusedConnections: s.connectionsRefused.capacity,
    droppedSockets: s.connectionsRefused.socket_limit,
  };
  if (s.maxConnections > 0 && s.admittedConnections >= s.maxConnections) {
    return {
      state: 'degraded',
      detail: `at its connection cap (MQTT_MAX_CONNECTIONS ${s.maxConnections}): new MQTT connections are refused with CONNACK 3 (server unavailable)`,
      figures,
    };
  }
  return { state: 'ok', figures };
}
