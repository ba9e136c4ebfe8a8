/**
 * Test launcher for a REAL InfluxDB 1.x server (Debian package `influxdb`, binary /usr/bin/influxd).
 *
 * Each server gets its own temporary folder (config, meta, data, wal) and two free ports (HTTP API and
 * the RPC bind-address used by backup/restore). `restart()` reuses the same ports and data folder, so a
 * test can check what survives a restart; `destroy()` stops the process and removes the folder. The
 * launch cycle itself is launch.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LaunchedServer, launchServer } from './launch.ts';
import { freePort } from './ports.ts';

export const INFLUXD_BIN = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

/** a running influxd; its data folder holds config, meta, data and wal */
export type InfluxdServer = LaunchedServer;

export interface InfluxdOptions {
  binary?: string;
  /** how long to wait for /ping to answer 204, default 30 s */
  startTimeoutMs?: number;
}

function influxdConfig(dir: string, httpPort: number, rpcPort: number): string {
  // influxd 1.x configuration (https://docs.influxdata.com/influxdb/v1/administration/config/)
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
`;
}

export function startInfluxd(options: InfluxdOptions = {}): Promise<InfluxdServer> {
  return launchServer({
    name: 'influxd',
    binary: options.binary ?? INFLUXD_BIN,
    installHint: 'apt-get install -y influxdb, or set INFLUXD_BIN',
    tmpPrefix: 'citywatch-influxd-',
    async prepare(port, dataDir) {
      const configPath = join(dataDir, 'influxdb.conf');
      await writeFile(configPath, influxdConfig(dataDir, port, await freePort()));
      return ['-config', configPath];
    },
    readyPath: '/ping',
    readyStatus: 204,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
}
