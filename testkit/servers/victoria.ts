/**
 * Test launcher for a REAL single-node VictoriaMetrics (Debian package `victoria-metrics`, binary
 * /usr/bin/victoria-metrics). It accepts InfluxDB line protocol on /write and /api/v2/write, which is
 * what the InfluxDB v2 write path of the store is tested against. It does not serve InfluxQL reads.
 * The launch cycle itself is launch.ts.
 */
import { join } from 'node:path';
import { type LaunchedServer, launchServer } from './launch.ts';

export const VICTORIA_BIN = process.env.VICTORIA_BIN ?? '/usr/bin/victoria-metrics';

export interface VictoriaServer extends LaunchedServer {
  /** make recently ingested samples visible to queries and exports (/internal/force_flush) */
  forceFlush(): Promise<void>;
}

export async function startVictoria(
  options: { binary?: string; startTimeoutMs?: number } = {},
): Promise<VictoriaServer> {
  const server = await launchServer({
    name: 'victoria-metrics',
    binary: options.binary ?? VICTORIA_BIN,
    installHint: 'apt-get install -y victoria-metrics',
    tmpPrefix: 'citywatch-victoria-',
    prepare: (port, dataDir) => [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${join(dataDir, 'storage')}`,
      // samples outside the retention period are dropped silently: keep everything
      '-retentionPeriod=100y',
      '-loggerLevel=ERROR',
      '-search.latencyOffset=0s',
    ],
    readyPath: '/health',
    readyStatus: 200,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
  // Object.assign adds to the handle itself, so its `running` getter stays live.
  return Object.assign(server, {
    async forceFlush() {
      const res = await fetch(`${server.url}/internal/force_flush`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`victoria-metrics force_flush: HTTP ${res.status}`);
    },
  });
}
