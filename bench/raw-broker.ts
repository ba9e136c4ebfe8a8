import mqtt from 'mqtt';
import { TELEMETRY_TOPIC_FILTER } from '../ingest/payload.ts';
import type { LoadSummary } from '../simulators/load.ts';
import { startBareAedes } from './aedes.ts';
import { lastJson, spawnTs } from './child.ts';
import type { Benchmark, Figure } from './types.ts';

/**
 * Raw aedes fan-in baseline: a bare aedes (default options, no auth, no hooks) on a TCP port in this
 * process, one mqtt.js subscriber at QoS 1 on devices/+/telemetry (also in this process), and the load
 * generator as a separate process publishing QoS 1 fixes as fast as its windows allow. The subscriber
 * counts messages between the generator's window_start and window_end events, so ramp-up and warm-up
 * are excluded.
 */
export const rawBroker: Benchmark = {
  name: 'raw-broker',
  description: 'bare aedes fan-in: N QoS 1 publishers (child process) -> 1 QoS 1 subscriber',
  async run(ctx) {
    // 1,000 in both modes: with 2,000 publishers the bare aedes baseline overflowed its stack
    // (RangeError in mqemitter delivering to the QoS 1 subscriber), and the ratio needs equal loads.
    const connections = 1000;
    const durationS = ctx.quick ? 10 : 30;
    const warmupS = ctx.quick ? 3 : 5;
    const window = 8;
    const broker = await startBareAedes(0);
    const sub = await mqtt.connectAsync(broker.url, { clientId: 'bench-subscriber', reconnectPeriod: 0 });
    let received = 0;
    sub.on('message', () => {
      received++;
    });
    await sub.subscribeAsync(TELEMETRY_TOPIC_FILTER, { qos: 1 });
    ctx.progress(
      `[raw-broker] aedes on ${broker.url}; ${connections} publishers, window ${window}, ${durationS} s`,
    );

    let w0: { t: number; n: number } | undefined;
    let w1: { t: number; n: number } | undefined;
    const t0 = performance.now();
    const child = spawnTs(
      'simulators/load-cli.ts',
      [
        '--url',
        broker.url,
        '--connections',
        String(connections),
        '--qos',
        '1',
        '--window',
        String(window),
        '--duration',
        String(durationS),
        '--warmup',
        String(warmupS),
        '--events',
      ],
      {
        onStdoutLine: (line) => {
          if (!line.startsWith('{"event"')) return;
          const event = (JSON.parse(line) as { event: string }).event;
          if (event === 'window_start') w0 = { t: performance.now(), n: received };
          if (event === 'window_end') w1 = { t: performance.now(), n: received };
        },
        onStderrLine: (line) => ctx.progress(`  ${line}`),
      },
    );
    try {
      const code = await child.exited;
      if (code !== 0) throw new Error(`load generator exited with ${code}`);
      const summary = lastJson<LoadSummary>(child, 'load generator');
      if (!w0 || !w1) throw new Error('no window events from the load generator');
      const windowS = (w1.t - w0.t) / 1000;
      const subRate = (w1.n - w0.n) / windowS;
      const l = summary.latencyMs;
      const figures: Figure[] = [
        {
          name: 'raw_broker_msgs_per_s',
          value: Math.round(subRate),
          unit: 'msg/s',
          note: `received by 1 QoS 1 subscriber over ${windowS.toFixed(1)} s, ${summary.connected} publishers`,
        },
        {
          name: 'raw_broker_pub_acked_per_s',
          value: Math.round(summary.ackedPerS),
          unit: 'msg/s',
          note: `PUBACKs at the publishers, window ${window}/connection`,
        },
        { name: 'raw_broker_connections', value: summary.connected, unit: 'connections' },
      ];
      if (l) {
        figures.push(
          { name: 'raw_broker_pub_latency_p50_ms', value: l.p50, unit: 'ms', note: 'publish -> PUBACK' },
          { name: 'raw_broker_pub_latency_p99_ms', value: l.p99, unit: 'ms' },
          { name: 'raw_broker_pub_latency_max_ms', value: l.max, unit: 'ms' },
        );
      }
      if (summary.errors > 0 || summary.unacked > 0) {
        ctx.progress(`[raw-broker] warning: ${summary.errors} errors, ${summary.unacked} unacked`);
      }
      return figures;
    } finally {
      if (child.child.exitCode === null) child.child.kill('SIGKILL');
      // Let the subscriber catch up before it disconnects: aedes acknowledges publishers ahead of the
      // fan-out, and a backlog of tens of thousands of messages still queued in mqemitter when the
      // subscriber goes away is released synchronously, one nested call per message, until the stack
      // overflows (RangeError in qlobber) and takes the bench process down.
      for (let last = -1, quiet = 0; quiet < 4 && performance.now() - t0 < 60_000; ) {
        await new Promise((r) => setTimeout(r, 250));
        quiet = received === last ? quiet + 1 : 0;
        last = received;
      }
      await sub.endAsync(true).catch(() => undefined);
      await broker.close();
    }
  },
};
