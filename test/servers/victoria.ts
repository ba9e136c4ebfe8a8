/**
 * Test launcher for a REAL single-node VictoriaMetrics (Debian package `victoria-metrics`, binary
 * /usr/bin/victoria-metrics). It accepts InfluxDB line protocol on /write and /api/v2/write, which is
 * what the InfluxDB v2 write path of the store is tested against. It does not serve InfluxQL reads.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable, ManagedProcess, waitForHttp } from './influxd.ts';
import { freePort } from './ports.ts';

export const VICTORIA_BIN = process.env.VICTORIA_BIN ?? '/usr/bin/victoria-metrics';

export function victoriaAvailable(binary = VICTORIA_BIN): boolean {
  return binaryAvailable(binary);
}

export interface VictoriaServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly running: boolean;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** stop and remove the storage folder */
  destroy(): Promise<void>;
  /** make recently ingested samples visible to queries and exports (/internal/force_flush) */
  forceFlush(): Promise<void>;
  logs(): string;
}

export async function startVictoria(
  options: { binary?: string; startTimeoutMs?: number } = {},
): Promise<VictoriaServer> {
  const binary = options.binary ?? VICTORIA_BIN;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  if (!victoriaAvailable(binary)) {
    throw new Error(`victoria-metrics not found at ${binary} (apt-get install -y victoria-metrics)`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'citywatch-victoria-'));
  let port = 0;
  let proc: ManagedProcess | undefined;

  const launch = async (): Promise<void> => {
    const p = new ManagedProcess(`victoria-metrics on :${port}`, binary, [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${join(dataDir, 'storage')}`,
      // samples outside the retention period are dropped silently: keep everything
      '-retentionPeriod=100y',
      '-loggerLevel=ERROR',
      '-search.latencyOffset=0s',
    ]);
    proc = p;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, (s) => s === 200, p, startTimeoutMs);
    } catch (err) {
      await p.stop(2_000);
      throw err;
    }
  };

  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await launch();
        break;
      } catch (err) {
        const bindClash = /address already in use/i.test((err as Error).message);
        if (!bindClash || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const url = `http://127.0.0.1:${port}`;
  const current = (): ManagedProcess => proc!;
  return {
    url,
    port,
    dataDir,
    get running() {
      return current().running;
    },
    stop: () => current().stop(),
    async restart() {
      await current().stop();
      await launch();
    },
    async destroy() {
      await current().stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    async forceFlush() {
      const res = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`victoria-metrics force_flush: HTTP ${res.status}`);
    },
    logs: () => current().tail(),
  };
}
