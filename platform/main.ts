import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.ts';

/**
 * `npm start`: the process shell. Reads the environment, starts the platform, prints what runs where,
 * and on SIGINT/SIGTERM stops intake, flushes the spool to the store and exits.
 */
/** time allowed beyond SHUTDOWN_FLUSH_MS for closing the listeners, stores and files */
const SHUTDOWN_OVERRUN_MS = 10_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n(see the configuration table in README.md)\n`);
      process.exit(2);
    }
    throw err;
  }
  if (config.env.PARTS.some((part) => part === 'edge' || part === 'worker')) {
    // cluster mode (cluster/): loaded only then, so the single process never loads the NATS client
    const { clusterMain } = await import('./cluster.ts');
    await clusterMain(config);
    return;
  }
  const logger = pino({ level: config.env.LOG_LEVEL, base: undefined });
  // loaded only here: a cluster part (above) does not load the single process's graph (a second of CPU
  // at each start, four parts at once in the cluster benchmark)
  const { startPlatform } = await import('./platform.ts');
  const platform = await startPlatform(config, { logger });
  // a cluster API node (PARTS=api with CLUSTER_NATS_URLS): its registry joins the cluster's (platform/cluster-api-node.ts)
  const clusterRegistry =
    config.env.CLUSTER_NATS_URLS === undefined
      ? undefined
      : await (await import('./cluster-api-node.ts')).joinRegistryStream(
          config,
          {
            registry: platform.registry,
            compliance: platform.compliance,
            recompile: () => platform.complianceService.recompile(),
            live: platform.live,
            webhooks: platform.webhooks,
            ...(platform.clusterCommands ? { commands: platform.clusterCommands } : {}),
            outages: platform.outages,
            metrics: platform.metrics,
          },
          logger,
        );
  const { ports } = platform;
  const host = config.env.BIND_HOST;
  const httpScheme = config.tls ? 'https' : 'http';
  const lines = [
    'citywatch platform running',
    ...(ports.http !== undefined
      ? [
          `  console      ${httpScheme}://${host}:${ports.http}/  (sign in with an API key or the admin token)`,
          `  API          ${httpScheme}://${host}:${ports.http}/api/v1/positions  (Authorization: Bearer ${config.env.ADMIN_TOKEN ? '<ADMIN_TOKEN>' : `${platform.adminToken}, saved in ${config.dataDir}/admin-token`})`,
          `  API docs     ${httpScheme}://${host}:${ports.http}/docs`,
          `  health       ${httpScheme}://${host}:${ports.http}/healthz`,
          `  metrics      ${httpScheme}://${host}:${ports.http}/metrics`,
        ]
      : []),
    ...(ports.mqtt !== undefined ? [`  MQTT         mqtt://${host}:${ports.mqtt}`] : []),
    ...(ports.ws !== undefined ? [`  MQTT/WS      ws://${host}:${ports.ws}/mqtt`] : []),
    ...(ports.mqtts !== undefined ? [`  MQTTS        mqtts://${host}:${ports.mqtts}`] : []),
    ...(ports.wss !== undefined ? [`  MQTT/WSS     wss://${host}:${ports.wss}/mqtt`] : []),
    ...(config.env.INGEST_MQTT_URL ? [`  ingest from  ${config.env.INGEST_MQTT_URL}`] : []),
    `  store        ${platform.store.name}${config.store.kind === 'embedded' ? ` (${config.store.dir})` : ` (${config.store.url})`}`,
    `  data dir     ${config.dataDir}`,
    `  demo fleet   ${config.env.SIMULATE.fleet ? 'on (SIMULATE=0 turns it off)' : 'off'}`,
    ...(clusterRegistry ? [`  registry     the cluster's (${config.env.CLUSTER_NATS_URLS?.join(',')})`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      logger.warn('second signal: exiting without waiting for the flush (the spool keeps unwritten fixes)');
      process.exit(130);
    }
    stopping = true;
    const flushMs = config.env.SHUTDOWN_FLUSH_MS;
    logger.info({ signal, flushMs }, 'shutting down: intake stopped, flushing the spool to the store');
    // Every step is bounded on its own; this is the backstop should one of them hang anyway. Exiting
    // here loses nothing: the spool, the outbox and the due evidence are on disk (as after kill -9).
    setTimeout(() => {
      logger.error(
        { flushMs, overrunMs: SHUTDOWN_OVERRUN_MS },
        'shutdown overran the flush time; exiting now (the spool and the outbox keep what was not stored)',
      );
      process.exit(1);
    }, flushMs + SHUTDOWN_OVERRUN_MS);
    (clusterRegistry?.stop() ?? Promise.resolve())
      .catch((err: Error) => logger.error({ err }, 'registry sync stop failed'))
      .then(() => platform.stop())
      .then(
        () => process.exit(0),
        (err: Error) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  process.stderr.write(`start-up failed: ${err.message}\n`);
  process.exit(1);
});
