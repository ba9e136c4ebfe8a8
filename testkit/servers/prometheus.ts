/**
 * Test launcher for a REAL Prometheus (Debian package `prometheus`, binary /usr/bin/prometheus), on a
 * free port with its own temporary folder (config and TSDB), scraping the given targets. The tests run
 * the Pipeline health dashboard's PromQL against it (test/grafana/promql-queries.test.ts). The launch
 * cycle itself is launch.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LaunchedServer, launchServer } from './launch.ts';
import { binaryAvailable } from './process.ts';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export function prometheusAvailable(binary = PROMETHEUS_BIN): boolean {
  return binaryAvailable(binary);
}

export interface PrometheusOptions {
  /** host:port of each /metrics to scrape (job `citywatch`) */
  targets: readonly string[];
  /** e.g. '1s' */
  scrapeInterval: string;
  binary?: string;
  startTimeoutMs?: number;
}

export function startPrometheus(options: PrometheusOptions): Promise<LaunchedServer> {
  return launchServer({
    name: 'prometheus',
    binary: options.binary ?? PROMETHEUS_BIN,
    installHint: 'apt-get install -y prometheus, or set PROMETHEUS_BIN',
    tmpPrefix: 'citywatch-prometheus-',
    async prepare(port, dataDir) {
      const config = join(dataDir, 'prometheus.yml');
      await writeFile(
        config,
        [
          'global:',
          `  scrape_interval: ${options.scrapeInterval}`,
          `  evaluation_interval: ${options.scrapeInterval}`,
          'scrape_configs:',
          '  - job_name: citywatch',
          '    metrics_path: /metrics',
          '    static_configs:',
          `      - targets: [${options.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
          '',
        ].join('\n'),
      );
      return [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ];
    },
    readyPath: '/-/ready',
    readyStatus: 200,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
}
