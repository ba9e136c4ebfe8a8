import type { Client, Subscription } from 'aedes';
import type { Identity } from './identity.ts';
import { identityOf } from './identity.ts';
import type { BrokerCounters } from './metrics.ts';

/**
 * Topic ACL. Pure decisions (`canPublish`, `canSubscribe`) plus the aedes subscribe hook.
 *
 *   device  publish    `devices/{own id}/...` (any subtopic: telemetry, status incl. its last will, ...)
 *           subscribe  `devices/{own id}/commands` and filters below it (`.../commands/#`, `.../commands/+/x`)
 *   service publish    anywhere but `$`-topics
 *           subscribe  anywhere (incl. `platform/#`, the dead letters, and `$SYS/#`)
 *
 * Because a device's filters must begin with its own literal prefix, a wildcard can never reach past
 * it: `#`, `devices/+/...` or `platform/#` are all refused.
 */

/** [MQTT-4.7.2-1]: topics beginning with `$` are the server's; no client publishes to them. */
function isServerTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 36; // '$'
}

export function canPublish(identity: Identity | undefined, topic: string): boolean {
  if (identity === undefined || isServerTopic(topic)) return false;
  if (identity.type === 'service') return true;
  const prefix = `devices/${identity.device.id}/`;
  return topic.length > prefix.length && topic.startsWith(prefix);
}

export function canSubscribe(identity: Identity | undefined, filter: string): boolean {
  if (identity === undefined) return false;
  if (identity.type === 'service') return true;
  const commands = `devices/${identity.device.id}/commands`;
  // `devices/{id}/commands/#` also matches `devices/{id}/commands` itself [MQTT-4.7.1-2], so both the
  // parent level and every filter strictly below it are sub-filters of it.
  return filter === commands || filter.startsWith(`${commands}/`);
}

type AuthorizeSubscribeHandler = (
  client: Client,
  subscription: Subscription,
  callback: (error: Error | null, subscription?: Subscription | null) => void,
) => void;

export function createAuthorizeSubscribe(counters: BrokerCounters): AuthorizeSubscribeHandler {
  return (client, subscription, callback) => {
    if (canSubscribe(identityOf(client), subscription.topic)) {
      callback(null, subscription);
      return;
    }
    // [MQTT-3.9.3]: return code 0x80 (failure) for this filter; the other filters of the same SUBSCRIBE
    // are still granted. aedes turns a null subscription into 128 in the SUBACK.
    counters.aclDenial('subscribe');
    callback(null, null);
  };
}
