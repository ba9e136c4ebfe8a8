import mqtt, { type MqttClient } from 'mqtt';
import { TELEMETRY_TOPIC_FILTER } from '../ingest/payload.ts';
import type { LoadStepResult } from '../simulators/load/options.ts';
import { startBareAedes } from './aedes.ts';
import { burstShape, runSteppedGenerator } from './load-run.ts';
import type { BenchContext, Benchmark, Figure } from './types.ts';

/**
 * The bare-broker baselines: a bare aedes (default options, no auth, no hooks) on a TCP port in this
 * process and the load generator as a separate process, with the same 1,000 QoS 1 publishers, window,
 * warm-up and measured window as the platform's e2e benchmark. Two windows on the same connections
 * (one generator, --steps-ipc), each named for what it is:
 *
 * - raw_broker_puback_msgs_per_s, the baseline of e2e_ratio: publishers only, no subscriber; the
 *   figure is the PUBACKs the publishers received over the window, exactly what e2e_msgs_per_s counts
 *   against the platform (whose PUBACK also waits for validation and the fdatasync'ed spool).
 * - raw_broker_fanout_msgs_per_s: then one mqtt.js QoS 1 subscriber on devices/+/telemetry in this
 *   process joins (the publishers idle, every PUBACK in), and the same publishers go flat out again
 *   after a warm-up; counted at the subscriber between the generator's window events: aedes delivering
 *   every message once more. Work the platform does not do, so it is no baseline for the platform; it
 *   is kept as a figure of its own. Until 2026-12-07 it ran on a second broker with a second generator
 *   (its own start and ramp: a few seconds of the quick run for the same figure).
 */
export const rawBroker: Benchmark = {
  name: 'raw-broker',
  description:
    'bare aedes: N QoS 1 publishers (child process), PUBACK only (baseline of e2e_ratio); then with 1 QoS 1 subscriber (fan-out)',
  async run(ctx) {
    const { connections, window, durationS, warmupS } = burstShape(ctx);
    // not a baseline of anything: a shorter window in a quick run
    const fanoutS = ctx.quick ? 3 : durationS;
    const figures: Figure[] = [];
    const broker = await startBareAedes(0);
    ctx.progress(
      `[raw-broker] PUBACK only: aedes on ${broker.url}; ${connections} publishers, window ${window}, ${durationS} s`,
    );
    let sub: MqttClient | undefined;
    let received = 0;
    let w0: { t: number; n: number } | undefined;
    let w1: { t: number; n: number } | undefined;
    /** publishes the broker had taken when the subscriber joined (all acknowledged by then) */
    let sentBefore = 0;
    let fanout: LoadStepResult | undefined;
    try {
      await runSteppedGenerator(ctx, {
        url: broker.url,
        connections,
        window,
        first: { warmupS, durationS },
        label: '[raw-broker]',
        onEvent: (event) => {
          if (sub === undefined) return;
          if (event === 'window_start') w0 = { t: performance.now(), n: received };
          if (event === 'window_end') w1 = { t: performance.now(), n: received };
        },
        onWindow: async (s) => {
          if (sub !== undefined) {
            fanout = s;
            return undefined;
          }
          figures.push(...pubackFigures(ctx, s, window));
          sentBefore = s.sent;
          const client = await mqtt.connectAsync(broker.url, {
            clientId: 'bench-subscriber',
            reconnectPeriod: 0,
          });
          client.on('message', () => {
            received++;
          });
          await client.subscribeAsync(TELEMETRY_TOPIC_FILTER, { qos: 1 });
          sub = client;
          ctx.progress(`[raw-broker] fan-out: 1 QoS 1 subscriber joined; the same publishers, ${fanoutS} s`);
          return { rate: 0, warmupS, durationS: fanoutS };
        },
      });
      if (!fanout || !w0 || !w1) throw new Error('no fan-out window from the load generator');
      const windowS = (w1.t - w0.t) / 1000;
      figures.push(
        {
          name: 'raw_broker_fanout_msgs_per_s',
          value: Math.round((w1.n - w0.n) / windowS),
          unit: 'msg/s',
          note: `received by 1 QoS 1 subscriber over ${windowS.toFixed(1)} s, ${fanout.connected} publishers (not a baseline: the platform does not fan out)`,
        },
        {
          name: 'raw_broker_fanout_pub_acked_per_s',
          value: Math.round(fanout.ackedPerS),
          unit: 'msg/s',
          note: 'PUBACKs at the publishers in the same fan-out window',
        },
      );
      return figures;
    } finally {
      // Let the subscriber catch up before it disconnects: aedes acknowledges publishers ahead of the
      // fan-out, and a backlog of tens of thousands of messages still queued in mqemitter when the
      // subscriber goes away is released synchronously, one nested call per message, until the stack
      // overflows (RangeError in qlobber) and takes the bench process down. Done when it has every
      // publish the publishers had acknowledged since it joined, or nothing more comes for a second.
      const due = fanout ? fanout.acked - sentBefore : Number.POSITIVE_INFINITY;
      const t0 = performance.now();
      for (let last = -1, quiet = 0; sub && quiet < 4 && performance.now() - t0 < 60_000; ) {
        if (received >= due) break;
        await new Promise((r) => setTimeout(r, 250));
        quiet = received === last ? quiet + 1 : 0;
        last = received;
      }
      await sub?.endAsync(true).catch(() => undefined);
      await broker.close();
    }
  },
};

function pubackFigures(ctx: BenchContext, s: LoadStepResult, window: number): Figure[] {
  if (s.errors > 0 || s.unacked > 0)
    ctx.progress(`[raw-broker] warning: ${s.errors} errors, ${s.unacked} unacked`);
  const figures: Figure[] = [
    {
      name: 'raw_broker_puback_msgs_per_s',
      value: Math.round(s.ackedPerS),
      unit: 'msg/s',
      note: `PUBACKs at ${s.connected} QoS 1 publishers over ${s.windowS} s, window ${window}/connection, no subscriber (baseline of e2e_ratio)`,
    },
    { name: 'raw_broker_connections', value: s.connected, unit: 'connections' },
  ];
  const l = s.latencyMs;
  if (l) {
    figures.push(
      { name: 'raw_broker_pub_latency_p50_ms', value: l.p50, unit: 'ms', note: 'publish -> PUBACK' },
      { name: 'raw_broker_pub_latency_p99_ms', value: l.p99, unit: 'ms' },
    );
  }
  return figures;
}
