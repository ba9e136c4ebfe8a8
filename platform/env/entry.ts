import { z } from 'zod';
import { VIOLATION_CODES } from '../../geofence/model.ts';
import { port } from './common.ts';

/**
 * The entry points: the HTTP API's and the MQTT broker's ports and limits, the JT/T 808 gateway.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const entryEnv = {
  HTTP_PORT: port(8080),
  MQTT_PORT: port(1883),
  /** MQTT over WebSocket (path /mqtt); empty disables */
  MQTT_WS_PORT: port(8083),
  /** MQTT over TLS, when TLS_CERT_FILE/TLS_KEY_FILE are set */
  MQTTS_PORT: port(8883),
  /** MQTT over secure WebSocket, when TLS is configured */
  MQTT_WSS_PORT: port(8084),
  /**
   * processes the embedded broker's connections are spread over (broker/cluster/): each connection is
   * a file descriptor and one process holds at most its open-files limit of them; 1 keeps it in the
   * platform process
   */
  MQTT_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * most MQTT connections at once; over it a CONNECT gets CONNACK 3 (server unavailable). Unset: the
   * open-files limit minus a reserve for everything else (broker/open-files.ts)
   */
  MQTT_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(10_000_000).optional(),
  /** JT/T 808 terminals over TCP (gateway/jt808/); 0 turns the gateway off */
  JT808_PORT: port(6808),
  /** accept locations from a bound phone that skipped registration and authentication (legacy terminals) */
  JT808_ALLOW_UNAUTHENTICATED: z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .default('0')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
  /** a JT/T 808 connection silent this long is closed (three missed heartbeats of 60 s) */
  JT808_IDLE_TIMEOUT_S: z.coerce.number().int().min(10).max(86_400).default(180),
  /** how long a command to a JT/T 808 terminal waits for its answer before it is a timeout */
  JT808_COMMAND_TIMEOUT_S: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * texts sent to a truck's JT/T 808 terminal (0x8300, read aloud) when a violation of that type opens,
   * as JSON: {"OFF_ROUTE":"您已偏离核准路线"}; none by default
   */
  JT808_VIOLATION_TEXTS: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not JSON: ${(err as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(
      z.partialRecord(
        z.enum(VIOLATION_CODES),
        z.string().min(1).max(200, 'a text of at most 200 characters (a terminal shows and reads it)'),
      ),
    ),
};
