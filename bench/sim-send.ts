import type { LoadSummary } from '../simulators/load/options.ts';
import { lastJson, spawnTs } from './child.ts';
import type { SinkStats } from './tcp-sink.ts';
import type { Benchmark } from './types.ts';

/**
 * The load generator's own send rate: QoS 0 publishes from one generator process to a plain TCP sink
 * in another process. The sink answers CONNECT/PINGREQ and otherwise only walks MQTT fixed headers, so
 * it costs far less per message than any broker: the figure is bounded by the generator (mqtt.js
 * encoding and socket writes), not by a receiver. A bare aedes as receiver would measure min(generator,
 * aedes), and with QoS 0 the kernel socket buffers of 1,000 connections hide a slow receiver for
 * seconds, so a send rate against aedes overstates what aedes takes in. The sink also counts what
 * actually arrived in the window, as a cross-check.
 */
export const simSend: Benchmark = {
  name: 'sim-send',
  description: 'load generator send rate: QoS 0 publishes (1 process) -> plain TCP sink (another process)',
  async run(ctx) {
    const connections = 1000;
    const durationS = ctx.quick ? 4 : 30;
    const warmupS = ctx.quick ? 2 : 5;

    const sink = spawnTs('bench/tcp-sink.ts', [], {
      ipc: true,
      onStderrLine: (l) => ctx.progress(`  [sink] ${l}`),
    });
    const ask = <T>(msg: object, key: string): Promise<T> =>
      new Promise((resolve, reject) => {
        const onMessage = (m: Record<string, unknown>) => {
          if (key in m) {
            sink.child.off('message', onMessage);
            clearTimeout(timer);
            resolve(m[key] as T);
          }
        };
        const timer = setTimeout(() => reject(new Error(`sink did not answer ${key}`)), 15_000);
        sink.child.on('message', onMessage);
        if (Object.keys(msg).length > 0) sink.child.send(msg);
      });
    try {
      const port = await ask<number>({}, 'port');
      const url = `mqtt://127.0.0.1:${port}`;
      ctx.progress(`[sim-send] sink on ${url}; ${connections} connections, QoS 0, ${durationS} s`);
      const marks: Promise<SinkStats>[] = [];
      const gen = spawnTs(
        'simulators/load-cli.ts',
        [
          '--url',
          url,
          '--connections',
          String(connections),
          '--qos',
          '0',
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
            if (event === 'window_start' || event === 'window_end') {
              const t = performance.now();
              marks.push(ask<SinkStats>({ cmd: 'stats' }, 'stats').then((s) => ({ ...s, t })));
            }
          },
          onStderrLine: (line) => ctx.progress(`  ${line}`),
        },
      );
      const code = await gen.exited;
      if (code !== 0) throw new Error(`load generator exited with ${code}`);
      const summary = lastJson<LoadSummary>(gen, 'load generator');
      const [a, b] = (await Promise.all(marks)) as (SinkStats & { t: number })[];
      if (!a || !b) throw new Error('no window events from the load generator');
      const sinkRate = (b.publishes - a.publishes) / ((b.t - a.t) / 1000);
      return [
        {
          name: 'sim_msgs_per_s',
          value: Math.round(summary.sentPerS),
          unit: 'msg/s',
          note: `QoS 0 publishes by 1 generator process, ${summary.connected} connections, ${summary.payloadBytes} B payloads, goal >= 50000`,
        },
        {
          name: 'sim_sink_received_per_s',
          value: Math.round(sinkRate),
          unit: 'msg/s',
          note: 'PUBLISH packets counted by the sink in the same window',
        },
      ];
    } finally {
      if (sink.child.connected) sink.child.disconnect();
      if (sink.child.exitCode === null) sink.child.kill();
    }
  },
};
