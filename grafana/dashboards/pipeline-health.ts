import { AxisPlacement } from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  type DynamicConfigValue,
  RowBuilder,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { citywatchDashboard, legend, panelIds } from '../lib/common.ts';
import { INSTANCE, promql } from '../lib/promql.ts';
import { instanceVariable } from '../lib/variables.ts';

/**
 * Pipeline health: the platform's own Prometheus metrics (GET /metrics, scraped by Prometheus: see
 * prometheus/prometheus.yml), from the MQTT and JT/T 808 edges through ingest, the spool and the store, the compliance
 * engine, webhooks and live streams to the API and the Node.js process. Every label is bounded (reasons,
 * types, results, route templates): no vehicle or firm id is a label (README, Metrics).
 */

export const PIPELINE_UID = 'citywatch-pipeline';

const I = `{${INSTANCE}}`;
const rate = (metric: string) => `rate(${metric}{${INSTANCE}}[$__rate_interval])`;
const quantile = (q: number, metric: string, by = 'le') =>
  `histogram_quantile(${q}, sum by (${by}) (rate(${metric}_bucket{${INSTANCE}}[$__rate_interval])))`;

function graph(
  id: () => number,
  title: string,
  unit: string,
  description: string,
  span = 8,
): TimeseriesPanel {
  return new TimeseriesPanel()
    .id(id())
    .title(title)
    .description(description)
    .unit(unit)
    .legend(legend())
    .span(span)
    .height(8);
}

/** The override that puts a query's series on the right axis, in its own unit. */
function rightAxis(unit: string): DynamicConfigValue[] {
  return [
    { id: 'unit', value: unit },
    { id: 'custom.axisPlacement', value: AxisPlacement.Right },
  ];
}

export function pipelineHealth(): Dashboard {
  const id = panelIds();
  return citywatchDashboard(PIPELINE_UID, 'citywatch · Pipeline health', {
    description:
      'MQTT and JT/T 808, ingest, spool and backpressure, store, engine, webhooks, live streams, API latency, event loop and memory (Prometheus)',
    from: 'now-1h',
    refresh: '30s',
  })
    .withVariable(instanceVariable())
    .withRow(new RowBuilder('MQTT and ingest').id(id()))
    .withPanel(
      graph(
        id,
        'MQTT connections',
        'short',
        'Authenticated connections open, devices and services',
      ).withTarget(promql(`sum by (type) (citywatch_mqtt_connections${I})`, '{{type}}')),
    )
    .withPanel(
      graph(
        id,
        'MQTT refusals',
        'reqps',
        'Refused CONNECTs by reason (bad secret, throttled, client id not its own...) and connections refused for want of room',
      )
        .withTarget(
          promql(`sum by (reason) (${rate('citywatch_mqtt_auth_failures_total')})`, 'login: {{reason}}'),
        )
        .withTarget(
          promql(
            `sum by (reason) (${rate('citywatch_mqtt_connections_refused_total')})`,
            'no room: {{reason}}',
            'B',
          ),
        ),
    )
    .withPanel(
      graph(
        id,
        'JT/T 808 terminals',
        'short',
        'Terminal connections open to the JT/T 808 gateway (JT808_PORT); frames or messages refused per second by reason (right), and locations left unanswered because their fixes could not be made durable (the terminal resends them)',
      )
        .withTarget(promql(`sum(citywatch_jt808_connections${I})`, 'connections'))
        .withTarget(
          promql(`sum by (reason) (${rate('citywatch_jt808_refused_total')})`, 'refused: {{reason}}', 'B'),
        )
        .withTarget(promql(`sum(${rate('citywatch_jt808_unanswered_total')})`, 'unanswered', 'C'))
        .overrideByQuery('B', rightAxis('reqps'))
        .overrideByQuery('C', rightAxis('reqps')),
    )
    .withPanel(
      graph(
        id,
        'Ingest rate',
        'short',
        'Fixes accepted (durable in the spool) and messages received, per second',
      )
        .withTarget(promql(`sum(${rate('citywatch_ingest_fixes_accepted_total')})`, 'fixes accepted/s'))
        .withTarget(
          promql(
            `sum by (transport) (${rate('citywatch_ingest_messages_total')})`,
            'messages/s ({{transport}})',
            'B',
          ),
        ),
    )
    .withPanel(
      graph(
        id,
        'Ingest rejections by reason',
        'short',
        'Fixes or messages refused per second, by reason (README, Rejections), and the messages dead-lettered to platform/deadletter',
      )
        .withTarget(promql(`sum by (reason) (${rate('citywatch_ingest_rejected_total')})`, '{{reason}}'))
        .withTarget(promql(`sum(${rate('citywatch_ingest_dead_letters_total')})`, 'dead letters', 'B')),
    )
    .withPanel(
      graph(
        id,
        'Receipt to durable (PUBACK), p99',
        's',
        'From receipt of a message to its fixes fsynced in the spool: the wait before a QoS 1 PUBACK',
      ).withTarget(promql(quantile(0.99, 'citywatch_ingest_durable_seconds'), 'p99')),
    )
    .withPanel(
      graph(
        id,
        'Spool backlog',
        'short',
        'Fixes (left axis) and bytes (right axis) durable in the spool and not yet in the store: grows while the store is down or slow',
        12,
      )
        .withTarget(promql(`sum(citywatch_spool_depth_fixes${I})`, 'fixes'))
        .withTarget(promql(`sum(citywatch_spool_depth_bytes${I})`, 'bytes', 'B'))
        .overrideByQuery('B', rightAxis('bytes')),
    )
    .withPanel(
      graph(
        id,
        'Spool fill and held acknowledgements',
        'percentunit',
        'The spool against its limits (SPOOL_MAX_BYTES, SPOOL_MAX_AGE_S, the free-space floor): acknowledgements slow down from 80 % and wait at 100 %. Right: acknowledgements delayed (slowed) or withheld until room was made (held) per interval, and the messages waiting for room now',
        12,
      )
        .withTarget(promql(`max(citywatch_spool_fill_ratio${I})`, 'fill'))
        .withTarget(
          promql(
            `sum by (mode) (increase(citywatch_ingest_backpressure_total${I}[$__rate_interval]))`,
            '{{mode}}',
            'B',
          ),
        )
        .withTarget(promql(`sum(citywatch_ingest_backpressure_waiting${I})`, 'waiting now', 'C'))
        .overrideByQuery('B', rightAxis('short'))
        .overrideByQuery('C', rightAxis('short')),
    )
    .withRow(new RowBuilder('Store and engine').id(id()))
    .withPanel(
      graph(
        id,
        'Store lag and write time',
        's',
        'Lag: how long the oldest fix of the last batch written (or retried) had waited since receipt. Write: one batch write, p95',
      )
        .withTarget(promql(`max(citywatch_store_lag_seconds${I})`, 'lag'))
        .withTarget(promql(quantile(0.95, 'citywatch_store_write_seconds'), 'write p95', 'B')),
    )
    .withPanel(
      graph(
        id,
        'Store writes by result',
        'short',
        'Batch writes per second that succeeded (ok) or failed (error, retried)',
      ).withTarget(promql(`sum by (result) (${rate('citywatch_store_writes_total')})`, '{{result}}')),
    )
    .withPanel(
      graph(
        id,
        'Engine step and tick time',
        's',
        'Judging one fix (one fix in 64 is timed), p50 and p99; one silence tick over every vehicle, p99',
      )
        .withTarget(promql(quantile(0.5, 'citywatch_engine_step_seconds'), 'step p50'))
        .withTarget(promql(quantile(0.99, 'citywatch_engine_step_seconds'), 'step p99', 'B'))
        .withTarget(promql(quantile(0.99, 'citywatch_engine_tick_seconds'), 'tick p99', 'C')),
    )
    .withPanel(
      graph(
        id,
        'Violations opened per minute, by type',
        'short',
        'By violation type; firm_kind tells transport firms, sanitation contractors and enforcement departments apart',
      ).withTarget(promql(`sum by (type) (${rate('citywatch_violations_total')}) * 60`, '{{type}}')),
    )
    .withPanel(
      graph(
        id,
        'Violations in progress, by type',
        'short',
        'Opened by the engine and not yet closed',
      ).withTarget(promql(`sum by (type) (citywatch_violations_open${I})`, '{{type}}')),
    )
    .withPanel(
      graph(
        id,
        'Event-loop lag',
        's',
        "The platform process's event-loop delay (prom-client's monitorEventLoopDelay), p50 and p99",
      )
        .withTarget(promql(`max by (instance) (nodejs_eventloop_lag_p50_seconds${I})`, 'p50 {{instance}}'))
        .withTarget(
          promql(`max by (instance) (nodejs_eventloop_lag_p99_seconds${I})`, 'p99 {{instance}}', 'B'),
        ),
    )
    .withRow(new RowBuilder('Webhooks and live streams').id(id()))
    .withPanel(
      graph(
        id,
        'Webhook attempts by result',
        'reqps',
        'ok = 2xx; redirect, client_error, server_error: other answers; timeout; network; refused by the outbound guard',
      ).withTarget(
        promql(`sum by (result) (${rate('citywatch_webhook_attempt_seconds_count')})`, '{{result}}'),
      ),
    )
    .withPanel(
      graph(
        id,
        'Webhook attempt time, p95',
        's',
        "Time to the receiver's answer (or the timeout)",
      ).withTarget(promql(quantile(0.95, 'citywatch_webhook_attempt_seconds'), 'p95')),
    )
    .withPanel(
      graph(
        id,
        'Webhook deliveries and dead letters',
        'short',
        'Deliveries finished per interval (delivered, dead), and the dead letters kept and deliveries waiting now',
      )
        .withTarget(
          promql(
            `sum by (outcome) (increase(citywatch_webhook_deliveries_total${I}[$__rate_interval]))`,
            '{{outcome}}',
          ),
        )
        .withTarget(promql(`sum(citywatch_webhook_dead_letters${I})`, 'dead letters kept', 'B'))
        .withTarget(promql(`sum(citywatch_webhook_deliveries_pending${I})`, 'pending', 'C')),
    )
    .withPanel(
      graph(
        id,
        'Live-stream clients (SSE)',
        'short',
        'Clients of GET /api/v1/live/positions and /live/violations, and the clients dropped for reading too slowly',
      )
        .withTarget(promql(`sum by (stream) (citywatch_live_clients${I})`, '{{stream}}'))
        .withTarget(
          promql(
            `sum by (stream) (increase(citywatch_live_dropped_total${I}[$__rate_interval]))`,
            'dropped: {{stream}}',
            'B',
          ),
        ),
    )
    .withRow(new RowBuilder('API and process').id(id()))
    .withPanel(
      graph(
        id,
        'API latency by route, p95',
        's',
        'Receipt to response, by route template (never the raw URL)',
      ).withTarget(
        promql(quantile(0.95, 'citywatch_http_request_duration_seconds', 'le, route'), '{{route}}'),
      ),
    )
    .withPanel(
      graph(id, 'API requests by status', 'reqps', 'Requests per second by HTTP status').withTarget(
        promql(`sum by (status) (${rate('citywatch_http_request_duration_seconds_count')})`, '{{status}}'),
      ),
    )
    .withPanel(
      graph(
        id,
        'Memory and CPU',
        'bytes',
        'Resident memory and V8 heap in use (left), CPU seconds per second (right)',
      )
        .withTarget(promql(`sum by (instance) (process_resident_memory_bytes${I})`, 'RSS {{instance}}'))
        .withTarget(promql(`sum by (instance) (nodejs_heap_size_used_bytes${I})`, 'heap {{instance}}', 'B'))
        .withTarget(
          promql(`sum by (instance) (${rate('process_cpu_seconds_total')})`, 'CPU {{instance}}', 'C'),
        )
        .overrideByQuery('C', rightAxis('percentunit')),
    )
    .build();
}
