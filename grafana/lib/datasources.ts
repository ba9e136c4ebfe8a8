import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';

/**
 * The datasources every dashboard refers to, by the uids the provisioning files give them
 * (grafana/provisioning/datasources/*.yaml): a dashboard works as soon as Grafana has provisioned them,
 * whichever InfluxDB (1.x, or 2.x through its v1-compatible DBRP mapping) is behind the InfluxQL one.
 */
export const INFLUX_UID = 'citywatch-influxdb';
export const PROMETHEUS_UID = 'citywatch-prometheus';

export const INFLUX: DataSourceRef = { type: 'influxdb', uid: INFLUX_UID };
export const PROMETHEUS: DataSourceRef = { type: 'prometheus', uid: PROMETHEUS_UID };

/**
 * Prometheus's scrape interval (prometheus/prometheus.yml) and the Prometheus datasource's
 * `timeInterval`: Grafana derives `$__rate_interval` from it (at least 4 scrapes).
 */
export const SCRAPE_INTERVAL = '15s';
