/**
 * Which client ids a connection may use. MQTT 3.1.1 makes the client id the session's key: "If the
 * ClientId represents a Client already connected to the Server then the Server MUST disconnect the
 * existing Client" [MQTT-3.1.4-2]. Left alone, device B with its own valid credentials could connect with
 * device A's client id and so disconnect A (issue 10, defect 4). So a client id is bound to a device:
 *
 *   a device may use its own id (`dev-d1234`), its id followed by "-", "_", "." or ":" and anything
 *   (`dev-d1234-test`, several connections of one device), or an empty client id, for which the server
 *   assigns a unique one (clean session, [MQTT-3.1.3-6]); nothing else
 *
 * A client id belongs to the registered device with the LONGEST id it equals or starts with (followed by
 * a separator), so `dev-1` cannot use `dev-1-x`, the id of device `dev-1-x`. Any other client id is
 * refused with CONNACK 2, "Connection Refused, identifier rejected: The Client identifier is correct UTF-8
 * but not allowed by the Server" (table 3.1; [MQTT-3.1.3-8]: the server then closes the connection).
 * Services (trusted platform accounts) may use any client id that belongs to no device.
 *
 * Only connections of the same device can take one another over, then; the rule needs no state, so it
 * holds the same in every MQTT edge process (MQTT_PROCESSES > 1), where aedes announces a new client id
 * to the other edges and they close their connection of that id. Pure.
 */

/** characters that may follow a device id in one of its client ids */
const SEPARATORS = new Set(['-', '_', '.', ':']);
/** the longest device id (the registry's id grammar; ids from before it were no longer either) */
const MAX_DEVICE_ID_LENGTH = 64;
/** what aedes assigns to a CONNECT with an empty client id: `aedes_` and a random UUID */
const ASSIGNED = /^aedes_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The device a client id belongs to, or undefined. `isDevice` is asked for at most 64 prefixes. */
export function clientIdOwner(clientId: string, isDevice: (id: string) => boolean): string | undefined {
  if (clientId.length <= MAX_DEVICE_ID_LENGTH && isDevice(clientId)) return clientId;
  for (let i = Math.min(clientId.length - 1, MAX_DEVICE_ID_LENGTH); i > 0; i--) {
    if (SEPARATORS.has(clientId[i]!) && isDevice(clientId.slice(0, i))) return clientId.slice(0, i);
  }
  return undefined;
}

/**
 * `ok`; `takeover`: the client id belongs to another device (counted as a takeover attempt);
 * `not_own`: a device's client id that belongs to no device (a random or IMEI client id).
 */
export type ClientIdVerdict = 'ok' | 'takeover' | 'not_own';

export function judgeClientId(
  clientId: string,
  who: { type: 'device'; id: string } | { type: 'service' },
  isDevice: (id: string) => boolean,
): ClientIdVerdict {
  if (ASSIGNED.test(clientId)) return 'ok';
  const owner = clientIdOwner(clientId, isDevice);
  if (who.type === 'service') return owner === undefined ? 'ok' : 'takeover';
  if (owner === who.id) return 'ok';
  return owner === undefined ? 'not_own' : 'takeover';
}
