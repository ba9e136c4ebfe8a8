/**
 * The MQTT topic layout of the device contract (README, "MQTT contract"): one home for it, read by the
 * broker (ACL, the telemetry hook), ingest, the gateways and the simulators. Topic names are
 * case-sensitive UTF-8 strings and `/` separates levels (MQTT 3.1.1 §4.7, v5 §4.7); a device id is one
 * level, so it never contains `/`.
 */

const TELEMETRY_PREFIX = 'devices/';
const TELEMETRY_SUFFIX = '/telemetry';

/** What the platform subscribes to: every device's telemetry. */
export const TELEMETRY_TOPIC_FILTER = 'devices/+/telemetry';
export const telemetryTopic = (deviceId: string): string => `devices/${deviceId}/telemetry`;
export const statusTopic = (deviceId: string): string => `devices/${deviceId}/status`;
export const commandsTopicFilter = (deviceId: string): string => `devices/${deviceId}/commands/#`;
/** Rejected input, readable by platform services only. */
export const DEAD_LETTER_TOPIC = 'platform/deadletter';

/** `devices/{id}/telemetry` → id; anything else (no id, an id with a `/`, another topic) → undefined. */
export function deviceIdFromTelemetryTopic(topic: string): string | undefined {
  if (!topic.startsWith(TELEMETRY_PREFIX) || !topic.endsWith(TELEMETRY_SUFFIX)) return undefined;
  const id = topic.slice(TELEMETRY_PREFIX.length, topic.length - TELEMETRY_SUFFIX.length);
  if (id.length === 0 || id.includes('/')) return undefined;
  return id;
}
