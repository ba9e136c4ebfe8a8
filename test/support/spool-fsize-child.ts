/**
 * Child of test/ingest/spool-emfile.test.ts, run under `ulimit -f` (RLIMIT_FSIZE): spool writes past the
 * file-size limit fail for real (a short write, then EFBIG; Node ignores SIGXFSZ). Feeds one-fix
 * messages through the real IngestCore and Spool, resends each refused message once (what a device
 * does after its connection was closed without PUBACK), then reads the spool back and prints one JSON
 * line: which messages were acknowledged, refused and accepted on resend, what the spool holds, and its
 * figures.
 *
 * argv: <dataDir with registry/ seeded> <device id> <messages>
 */
import path from 'node:path';
import { Registry as MetricsRegistry } from 'prom-client';
import type { Fix } from '../../core/fix.ts';
import { IngestCore } from '../../ingest/core.ts';
import { DEFAULT_LIMITS } from '../../ingest/decode.ts';
import { createIngestMetrics } from '../../ingest/metrics.ts';
import { telemetryTopic } from '../../ingest/payload.ts';
import { Spool } from '../../ingest/spool.ts';
import { SqliteRegistry } from '../../registry/sqlite.ts';

const [dataDir, device, count] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4])];
const registry = new SqliteRegistry({ dir: path.join(dataDir, 'registry') });
const spool = new Spool({ dir: path.join(dataDir, 'spool') });
await spool.open();
const metrics = createIngestMetrics(new MetricsRegistry());
const core = new IngestCore({
  registry,
  spool,
  metrics,
  limits: DEFAULT_LIMITS,
  deadLetter: () => undefined,
});

const t0 = Date.now() - 3_600_000;
const acked: number[] = [];
const refused: { ts: number; error: string }[] = [];
const acceptedOnResend: number[] = [];
for (let i = 0; i < count; i++) {
  const ts = t0 + i * 1000;
  // a ~300-byte record: the limit is met after a couple of hundred messages
  const payload = Buffer.from(
    JSON.stringify({
      ts,
      lat: 31.82,
      lon: 117.23,
      speed: 30,
      heading: 90,
      load: 'full',
      note: 'x'.repeat(60),
    }),
  );
  try {
    await core.accept(telemetryTopic(device), payload, 'embedded');
    acked.push(ts);
  } catch (err) {
    refused.push({ ts, error: (err as Error).message });
    try {
      await core.accept(telemetryTopic(device), payload, 'embedded');
      acked.push(ts);
      acceptedOnResend.push(ts);
    } catch {
      // refused twice: left unacknowledged
    }
  }
}

const stored: number[] = [];
for (let batch = await spool.read(1000); batch !== undefined; batch = await spool.read(1000)) {
  for (const record of batch.records) stored.push((JSON.parse(record) as Fix).ts);
}
const failuresMetric = (await metrics.spoolAppendFailures.get()).values[0]?.value ?? 0;
process.stdout.write(
  `${JSON.stringify({ acked, refused, acceptedOnResend, stored, stats: spool.stats(), failuresMetric })}\n`,
);
await spool.close();
registry.close();
