import { z } from 'zod';
import { nonEmpty } from './common.ts';

/**
 * The servers the platform connects to: an external MQTT broker, TLS files, InfluxDB.
 * One group of the environment's zod schema (platform/config.ts joins the groups into ONE schema).
 */

export const connectionsEnv = {
  /** external broker for ingest, e.g. mqtt://mosquitto:1883; when set, ingest subscribes there */
  INGEST_MQTT_URL: z.url().optional(),
  INGEST_MQTT_USERNAME: z.string().optional(),
  INGEST_MQTT_PASSWORD: z.string().optional(),
  INGEST_MQTT_CLIENT_ID: nonEmpty.default('citywatch-ingest'),
  /** password of the `platform` MQTT service account on the embedded broker (none when unset) */
  SERVICE_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  TLS_CERT_FILE: nonEmpty.optional(),
  TLS_KEY_FILE: nonEmpty.optional(),
  TLS_CA_FILE: nonEmpty.optional(),
  INFLUX_URL: z.url().optional(),
  /** 1 or 2; inferred from INFLUX_TOKEN (2) or INFLUX_DATABASE (1) when unset */
  INFLUX_VERSION: z.enum(['1', '2']).optional(),
  INFLUX_TOKEN: z.string().optional(),
  INFLUX_ORG: z.string().optional(),
  INFLUX_BUCKET: z.string().optional(),
  INFLUX_DATABASE: z.string().optional(),
  INFLUX_RETENTION_POLICY: z.string().optional(),
  INFLUX_USERNAME: z.string().optional(),
  INFLUX_PASSWORD: z.string().optional(),
  /**
   * most sockets the platform opens to InfluxDB at once, shared by the fix and event stores (pump,
   * outbox, evidence, API queries); callers beyond it wait for a free socket within their timeout
   */
  INFLUX_MAX_SOCKETS: z.coerce.number().int().min(1).max(1024).default(16),
};
