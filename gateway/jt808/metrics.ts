import { Counter, Gauge, type Registry } from 'prom-client';
import { JT808_REFUSALS } from './codec/refusals.ts';

/** citywatch_jt808_* metrics, on the platform's prom-client registry (GET /metrics). */
export function createJt808Metrics(registry: Registry) {
  const refused = new Counter({
    name: 'citywatch_jt808_refused_total',
    help: 'JT/T 808 frames or messages refused by the gateway, by reason (dead-lettered with the raw frame as hex)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of JT808_REFUSALS) refused.labels(reason).inc(0);
  return {
    refused,
    connections: new Gauge({
      name: 'citywatch_jt808_connections',
      help: 'Open JT/T 808 terminal connections',
      registers: [registry],
    }),
    connectionsClosed: new Counter({
      name: 'citywatch_jt808_connections_closed_total',
      help: 'JT/T 808 connections closed by the gateway, by cause',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    messages: new Counter({
      name: 'citywatch_jt808_messages_total',
      help: 'JT/T 808 messages received (sub-packages counted once reassembled), by message id',
      labelNames: ['msg'] as const,
      registers: [registry],
    }),
    registrations: new Counter({
      name: 'citywatch_jt808_registrations_total',
      help: 'Terminal registrations (0x0100), by 0x8100 result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    authentications: new Counter({
      name: 'citywatch_jt808_authentications_total',
      help: 'Terminal authentications (0x0102), by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    notDurable: new Counter({
      name: 'citywatch_jt808_unanswered_total',
      help: 'Location messages left unanswered because their fixes could not be made durable (the terminal resends them)',
      registers: [registry],
    }),
    backpressure: new Counter({
      name: 'citywatch_jt808_backpressure_pauses_total',
      help: 'Times a connection stopped being read: its replies were not being taken, or too many of its messages were waiting to be durable',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    commands: new Counter({
      name: 'citywatch_jt808_commands_total',
      help: 'Commands sent to terminals, by message id and outcome',
      labelNames: ['msg', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Jt808Metrics = ReturnType<typeof createJt808Metrics>;
