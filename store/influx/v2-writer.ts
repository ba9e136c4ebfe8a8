/**
 * InfluxDB 2.x write (`/api/v2/write`) through @influxdata/influxdb-client.
 *
 * The client is built for fire-and-forget telemetry: it buffers, flushes on a timer, retries in the
 * background and keeps failed lines in a retry buffer. None of that is wanted here: the caller (the
 * spool pump) holds the data on disk and retries with backoff, so a write must either succeed or reject
 * promptly, and nothing may linger inside the client between calls. Hence, per chunk:
 *   - a fresh WriteApi (no buffer shared between concurrent calls), disposed afterwards;
 *   - batchSize above the chunk size, maxBatchBytes unlimited, flushInterval 0: no background flush
 *     (a background flush swallows its error), only our explicit flush() sends;
 *   - maxRetries 0, maxBufferLines 0, and writeFailed returning a rejected promise, which makes the
 *     client hand the error to flush() instead of queueing the lines for a retry.
 */
import { HttpError, InfluxDB, type WriteApi } from '@influxdata/influxdb-client';
import { type InfluxConnection, InfluxError, serverErrorText } from './http.ts';

export interface V2WriterConfig {
  url: string;
  token: string;
  org: string;
  bucket: string;
  timeoutMs: number;
  maxLinesPerRequest: number;
  /** its agent carries the client's requests, so they count against the same socket cap */
  connection: InfluxConnection;
}

function describe(err: unknown, url: string, timeoutMs: number): InfluxError {
  if (err instanceof HttpError) {
    const text = err.body ? serverErrorText(err.body) : err.message;
    return new InfluxError(`InfluxDB write failed: HTTP ${err.statusCode} ${text}`, err.statusCode);
  }
  const e = err as { name?: string; code?: string; message?: string };
  if (e.name === 'RequestTimedOutError') {
    return new InfluxError(`InfluxDB write failed: no answer from ${url} within ${timeoutMs} ms`);
  }
  return new InfluxError(`InfluxDB write failed: ${url} unreachable (${e.code ?? e.message ?? String(err)})`);
}

export class V2Writer {
  private readonly client: InfluxDB;
  private readonly origin: string;

  constructor(private readonly config: V2WriterConfig) {
    this.client = new InfluxDB({
      url: config.url,
      token: config.token,
      timeout: config.timeoutMs,
      transportOptions: { agent: config.connection.agent },
    });
    this.origin = new URL(config.url).origin;
  }

  async write(lines: readonly string[]): Promise<void> {
    const step = this.config.maxLinesPerRequest;
    for (let i = 0; i < lines.length; i += step) {
      const chunk = lines.slice(i, i + step);
      const api: WriteApi = this.client.getWriteApi(this.config.org, this.config.bucket, 'ms', {
        batchSize: chunk.length + 1,
        maxBatchBytes: Number.MAX_SAFE_INTEGER,
        flushInterval: 0,
        maxRetries: 0,
        maxBufferLines: 0,
        writeFailed: (error: Error) => Promise.reject(error),
      });
      try {
        api.writeRecords(chunk);
        await api.flush();
      } catch (err) {
        throw describe(err, this.origin, this.config.timeoutMs);
      } finally {
        api.dispose();
      }
    }
  }
}
