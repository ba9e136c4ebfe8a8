import type { AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import { LogThrottle } from '../ingest/log-throttle.ts';
import { HashingBusyError } from '../registry/hash-gate.ts';
import type { Registry } from '../registry/types.ts';
import { judgeClientId } from './client-id.ts';
import { type Identity, setIdentity } from './identity.ts';
import { ADDRESS_THROTTLE, DEVICE_THROTTLE, LoginThrottle } from './login-throttle.ts';
import type { AuthFailureReason, BrokerCounters, ThrottleKey } from './metrics.ts';

/**
 * CONNECT authentication (MQTT 3.1.1 §3.1.3.4-3.1.3.5, CONNACK return codes table 3.1):
 *   username = device id, password = device secret  → registry.verifyDevice
 *   username = service name, password = its secret  → registry.verifyService
 *
 *   missing username or password   → 4 bad user name or password
 *   unknown username               → 4
 *   wrong secret                   → 4
 *   device disabled                → 5 not authorized
 *   throttled (too many failures)  → 3 server unavailable
 *   secret checks queue full       → 3 server unavailable
 *   registry failure               → 3 server unavailable
 *   good credentials, a client id that is not theirs → 2 identifier rejected (client-id.ts)
 *
 * On refusal aedes writes the CONNACK with that code and closes the connection [MQTT-3.2.2-5]; on
 * success the connection's Identity is recorded for the ACL. Secrets are never logged.
 *
 * Failed logins are throttled per device id and per source address (login-throttle.ts): past a few
 * failures a CONNECT for that id, or from that address, is refused before its secret is checked. The
 * code is 3, "Server unavailable: The Network Connection has been made but the MQTT service is
 * unavailable" (table 3.1): the refusal is about now, not about the credentials, which were not looked
 * at, and a client retries later; 4 would tell a guesser nothing new either way. A secret already
 * checked for this device (remembered by the registry: no scrypt) passes the throttle, so flooding a
 * device's id with wrong passwords cannot lock that device out once it has logged in.
 */

/** CONNACK return codes, MQTT 3.1.1 table 3.1 */
export const CONNACK = {
  IDENTIFIER_REJECTED: 2,
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

type Outcome =
  | { ok: true; identity: Identity }
  | { ok: false; code: 3 | 4 | 5; reason?: AuthFailureReason; throttledBy?: ThrottleKey };

export interface AuthDeps {
  registry: Pick<
    Registry,
    'device' | 'verifyDevice' | 'rememberedDeviceVerdict' | 'verifyService' | 'isService'
  >;
  counters: BrokerCounters;
  logger: Logger;
  /** failed-login throttles; defaults: DEVICE_THROTTLE and ADDRESS_THROTTLE (login-throttle.ts) */
  deviceThrottle?: LoginThrottle;
  addressThrottle?: LoginThrottle;
}

/**
 * The connection's remote address (IPv4-mapped IPv6 written as IPv4), for the per-address throttle:
 * the socket's for TCP and TLS, the HTTP request's socket's for WebSocket.
 */
export function sourceAddressOf(client: Client): string {
  const c = client as unknown as {
    conn?: { remoteAddress?: string };
    req?: { socket?: { remoteAddress?: string } };
  };
  const address = c.conn?.remoteAddress ?? c.req?.socket?.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

class Authenticator {
  private readonly devices: LoginThrottle;
  private readonly addresses: LoginThrottle;

  constructor(private readonly deps: AuthDeps) {
    this.devices = deps.deviceThrottle ?? new LoginThrottle(DEVICE_THROTTLE);
    this.addresses = deps.addressThrottle ?? new LoginThrottle(ADDRESS_THROTTLE);
  }

  async decide(
    username: string | undefined,
    password: Buffer | undefined,
    address: string,
  ): Promise<Outcome> {
    const { registry } = this.deps;
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
      // known without scrypt: a remembered secret is let in whatever the throttles say
      const remembered = registry.rememberedDeviceVerdict(username, secret);
      if (remembered === true) return this.deviceAccepted(username);
      if (remembered === false) {
        // the id's count goes on; the address's does not: a terminal retrying its stale password costs
        // no scrypt and guesses nothing new, and must not block the devices behind the same NAT
        this.devices.fail(username);
        return this.deviceRefused(username);
      }
      const throttled = this.throttledBy(username, address);
      if (throttled !== undefined) return throttled;
      this.devices.begin(username);
      let ok = false;
      try {
        ok = await registry.verifyDevice(username, secret);
      } finally {
        this.devices.end(username, ok);
        // only a new wrong secret counts for the address (a scrypt run, a guess); not checks under way,
        // nor successes: a fleet behind one address logging in at once is not a flood
        if (!ok) this.addresses.fail(address);
      }
      if (ok) return this.deviceAccepted(username);
      return this.deviceRefused(username);
    }
    if (registry.isService(username)) {
      // services share the address throttle (a service account is worth guessing too)
      const throttled = this.throttledBy(undefined, address);
      if (throttled !== undefined) return throttled;
      let ok = false;
      try {
        ok = await registry.verifyService(username, secret);
      } finally {
        if (!ok) this.addresses.fail(address);
      }
      if (ok) return { ok: true, identity: { type: 'service', username } };
      return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'bad_secret' };
    }
    // no secret to check (no scrypt): refused while the address is blocked, not counted (device ids are
    // not secret, so trying user names gains nothing)
    const throttled = this.throttledBy(undefined, address);
    if (throttled !== undefined) return throttled;
    return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'unknown_user' };
  }

  private throttledBy(username: string | undefined, address: string): Outcome | undefined {
    const by: ThrottleKey | undefined =
      username !== undefined && !this.devices.check(username).allowed
        ? 'device'
        : !this.addresses.check(address).allowed
          ? 'address'
          : undefined;
    return by === undefined
      ? undefined
      : { ok: false, code: CONNACK.SERVER_UNAVAILABLE, reason: 'throttled', throttledBy: by };
  }

  private deviceAccepted(username: string): Outcome {
    // re-read: the entry may have been replaced (or disabled, which verifyDevice already refuses) meanwhile
    const current = this.deps.registry.device(username);
    if (current?.enabled) return { ok: true, identity: { type: 'device', device: current } };
    return this.deviceRefused(username);
  }

  private deviceRefused(username: string): Outcome {
    if (this.deps.registry.device(username)?.enabled === false) {
      return { ok: false, code: CONNACK.NOT_AUTHORIZED, reason: 'disabled' };
    }
    return { ok: false, code: CONNACK.BAD_USERNAME_OR_PASSWORD, reason: 'bad_secret' };
  }
}

const MESSAGES = {
  2: 'identifier rejected',
  3: 'Server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
} as const;

/** The error that makes aedes answer CONNECT with this CONNACK return code (and close). */
export function refusal(code: 2 | 3 | 4 | 5): AuthenticateError {
  // aedes copies returnCode into the CONNACK when it is 2..5 (lib/handlers/connect.js)
  return Object.assign(new Error(MESSAGES[code]), { returnCode: code }) as AuthenticateError;
}

export function createAuthenticate(deps: AuthDeps): AuthenticateHandler {
  const { counters, logger } = deps;
  const authenticator = new Authenticator(deps);
  const throttledLog = new LogThrottle();
  const clientIdLog = new LogThrottle();
  const refusedLog = new LogThrottle();
  return (client, username, password, done) => {
    authenticator.decide(username, password, sourceAddressOf(client)).then(
      (outcome) => {
        if (outcome.ok) {
          // the credentials are good; is the client id theirs? (client-id.ts, [MQTT-3.1.4-2])
          const who =
            outcome.identity.type === 'device'
              ? ({ type: 'device', id: outcome.identity.device.id } as const)
              : ({ type: 'service' } as const);
          const verdict = judgeClientId(client.id, who, (id) => deps.registry.device(id) !== undefined);
          if (verdict !== 'ok') {
            counters.authFailure(verdict === 'takeover' ? 'client_id_takeover' : 'client_id_not_own');
            const n = clientIdLog.hit();
            if (n > 0)
              logger.warn(
                { clientId: client.id, username, refused: n, reason: verdict },
                verdict === 'takeover'
                  ? `mqtt connect refused: client id ${client.id} belongs to another device (CONNACK 2)`
                  : `mqtt connect refused: a device's client id must be its device id, or the id followed by "-", "_", "." or ":" and more (CONNACK 2)`,
              );
            done(refusal(CONNACK.IDENTIFIER_REJECTED), false);
            return;
          }
          setIdentity(client, outcome.identity);
          done(null, true);
          return;
        }
        if (outcome.reason !== undefined) counters.authFailure(outcome.reason);
        if (outcome.throttledBy !== undefined) {
          counters.authThrottled(outcome.throttledBy);
          // a flood is a few lines, each saying how many refusals it stands for
          const n = throttledLog.hit();
          if (n > 0)
            logger.warn(
              { refused: n, by: outcome.throttledBy, username, address: sourceAddressOf(client) },
              'mqtt logins throttled after repeated failures: CONNACK 3 (server unavailable)',
            );
        } else {
          // each at debug; at warn one line per interval with how many it stands for (a device with a
          // stale password retrying every few seconds is not a line each time)
          const fields = { clientId: client.id, username, reason: outcome.reason, returnCode: outcome.code };
          logger.debug(fields, 'mqtt connect refused');
          const n = refusedLog.hit();
          if (n > 0)
            logger.warn(
              { ...fields, refused: n },
              'mqtt connect refused (refused: how many since the last such line)',
            );
        }
        done(refusal(outcome.code), false);
      },
      (err: unknown) => {
        if (err instanceof HashingBusyError) {
          counters.authFailure('busy');
          logger.warn(
            { clientId: client.id, username, err: err.message },
            'mqtt connect refused: secret checks busy',
          );
        } else logger.error({ clientId: client.id, username, err }, 'mqtt authentication failed');
        done(refusal(CONNACK.SERVER_UNAVAILABLE), false);
      },
    );
  };
}
