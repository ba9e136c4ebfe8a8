/**
 * InfluxDB 1.x write: POST `${url}/write?db=..&rp=..&precision=ms`, body = lines joined by "\n".
 * One request per chunk of lines, sequentially; the first failure rejects (earlier chunks stay written,
 * which is fine because writes are idempotent and the caller retries the whole batch). No retries here.
 */
import { type InfluxConnection, InfluxError, serverErrorText } from './http.ts';

export interface V1WriterConfig {
  url: string;
  database: string;
  retentionPolicy?: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxLinesPerRequest: number;
  connection: InfluxConnection;
}

export class V1Writer {
  private readonly endpoint: URL;

  constructor(private readonly config: V1WriterConfig) {
    this.endpoint = new URL(`${config.url}/write`);
    this.endpoint.searchParams.set('db', config.database);
    if (config.retentionPolicy) this.endpoint.searchParams.set('rp', config.retentionPolicy);
    this.endpoint.searchParams.set('precision', 'ms');
  }

  async write(lines: readonly string[]): Promise<void> {
    const step = this.config.maxLinesPerRequest;
    for (let i = 0; i < lines.length; i += step) {
      const res = await this.config.connection.request('InfluxDB write', this.endpoint, {
        method: 'POST',
        headers: { ...this.config.headers, 'content-type': 'text/plain; charset=utf-8' },
        body: lines.slice(i, i + step).join('\n'),
        timeoutMs: this.config.timeoutMs,
      });
      if (res.status < 200 || res.status >= 300) {
        throw new InfluxError(
          `InfluxDB write failed: HTTP ${res.status} ${serverErrorText(res.body)}`,
          res.status,
        );
      }
    }
  }
}
