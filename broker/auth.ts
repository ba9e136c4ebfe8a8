import type { AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import type { Registry } from '../registry/types.ts';
import { type Identity, setIdentity } from './identity.ts';
import type { AuthFailureReason, BrokerCounters } from './metrics.ts';

/**
 * CONNECT authentication (MQTT 3.1.1 §3.1.3.4-3.1.3.5, CONNACK return codes table 3.1):
 *   username = device id, password = device secret  → registry.verifyDevice
 *   username = service name, password = its secret  → registry.verifyService
 *
 *   missing username or password   → 4 bad user name or password
 *   unknown username               → 4
 *   wrong secret                   → 4
 *   device disabled                → 5 not authorized
 *   registry failure               → 3 server unavailable
 *
 * On refusal aedes writes the CONNACK with that code and closes the connection [MQTT-3.2.2-5]; on
 * success the connection's Identity is recorded for the ACL. Secrets are never logged.
 */

/** CONNACK return codes, MQTT 3.1.1 table 3.1 */
export const CONNACK = {
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const;

export type AuthenticateHandler = (
  client: Client,
  username: Readonly<string | undefined>,
  password: Readonly<Buffer | undefined>,
  done: (error: AuthenticateError | null, success: boolean | null) => void,
) => void;

type Outcome = { ok: true; identity: Identity } | { ok: false; code: 3 | 4 | 5; reason?: AuthFailureReason };

export interface AuthDeps {
  registry: Pick<Registry, 'device' | 'verifyDevice' | 'verifyService' | 'isService'>;
  counters: BrokerCounters;
  logger: Logger;
}

async function decide(
  registry: AuthDeps['registry'],
  username: string | undefined,
  password: Buffer | undefined,
): Promise<Outcome> {
  // [MQTT-3.1.2-19] / [MQTT-3.1.2-21]: the flags say whether the fields are present; absent means no credentials
  if (username === undefined || username.length === 0 || password === undefined || password.length === 0) {
    return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'missing_credentials' };
  }
  const secret = password.toString('utf8');
  const device = registry.device(username);
  if (device !== undefined) {
    // A disabled device is told so (5) rather than "bad password" (4): its installer can tell a
    // revoked terminal from a mistyped secret. Device ids are not secret (they are topic levels).
    if (!device.enabled) return { ok: false, code: CONNACK.NOT_AUTHORIZED, reason: 'disabled' };
    if (await registry.verifyDevice(username, secret)) {
      // re-read: the entry may have been replaced (or disabled, which verifyDevice already refuses) meanwhile
      const current = registry.device(username);
      if (current !== undefined) return { ok: true, identity: { type: 'device', device: current } };
    }
    if (registry.device(username)?.enabled === false) {
      return { ok: false, code: CONNACK.NOT_AUTHORIZED, reason: 'disabled' };
    }
    return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'bad_secret' };
  }
  if (registry.isService(username)) {
    if (await registry.verifyService(username, secret)) {
      return { ok: true, identity: { type: 'service', username } };
    }
    return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'bad_secret' };
  }
  return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'unknown_user' };
}

const MESSAGES = {
  3: 'Server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
} as const;

/** The error that makes aedes answer CONNECT with this CONNACK return code (and close). */
export function refusal(code: 3 | 4 | 5): AuthenticateError {
  // aedes copies returnCode into the CONNACK when it is 2..5 (lib/handlers/connect.js)
  return Object.assign(new Error(MESSAGES[code]), { returnCode: code }) as AuthenticateError;
}

export function createAuthenticate(deps: AuthDeps): AuthenticateHandler {
  const { registry, counters, logger } = deps;
  return (client, username, password, done) => {
    decide(registry, username, password).then(
      (outcome) => {
        if (outcome.ok) {
          setIdentity(client, outcome.identity);
          done(null, true);
          return;
        }
        if (outcome.reason !== undefined) counters.authFailure(outcome.reason);
        logger.warn(
          { clientId: client.id, username, reason: outcome.reason, returnCode: outcome.code },
          'mqtt connect refused',
        );
        done(refusal(outcome.code), false);
      },
      (err: unknown) => {
        logger.error({ clientId: client.id, username, err }, 'mqtt authentication failed');
        done(refusal(CONNACK.SERVER_UNAVAILABLE), false);
      },
    );
  };
}
