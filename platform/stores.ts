import type { Logger } from 'pino';
import { EmbeddedEventStore } from '../store/events-embedded.ts';
import type { EventStore } from '../store/events-port.ts';
import { createStore } from '../store/index.ts';
import { InfluxEventStore } from '../store/influx/events.ts';
import { InfluxConnection } from '../store/influx/http.ts';
import type { FixStore } from '../store/port.ts';
import type { Config } from './config.ts';

/** The two stores the platform writes: fixes, and violation and trip events (embedded or InfluxDB). */
export interface Stores {
  store: FixStore;
  events: EventStore;
  /** the one socket pool to InfluxDB both share (INFLUX_MAX_SOCKETS caps their sum); none when embedded */
  influxConnection: InfluxConnection | undefined;
}

export function createStores(config: Config): Stores {
  const influxConnection =
    config.store.kind === 'influxdb'
      ? new InfluxConnection(config.store.url, config.store.maxSockets)
      : undefined;
  const store = createStore(
    config.store.kind === 'embedded'
      ? { kind: 'embedded', dir: config.store.dir }
      : { ...config.store, connection: influxConnection },
  );
  const events: EventStore =
    config.store.kind === 'embedded'
      ? new EmbeddedEventStore({ dir: config.store.dir })
      : new InfluxEventStore({
          ...(({ kind: _kind, ...influx }) => influx)(config.store),
          connection: influxConnection,
        });
  return { store, events, influxConnection };
}

/** Opens a store, retrying in the background while it is unreachable (fixes wait in the spool). */
export function openStoreWhenReachable(
  store: Pick<FixStore, 'open' | 'name'>,
  logger: Logger,
  isStopping: () => boolean,
): Promise<boolean> {
  return new Promise((resolve) => {
    let delay = 500;
    const attempt = () => {
      if (isStopping()) return resolve(false);
      store.open().then(
        () => resolve(true),
        (err: Error) => {
          logger.warn({ store: store.name, err: err.message, retryInMs: delay }, 'store not reachable yet');
          setTimeout(attempt, delay).unref();
          delay = Math.min(delay * 2, 15_000);
        },
      );
    };
    attempt();
  });
}
