import path from 'node:path';
import type { Logger } from 'pino';
import { ComplianceRegistry, vehicleProfilesFrom } from '../registry/compliance.ts';
import { SHIPPED_MODEL } from '../registry/device-models.ts';
import { ID_GRAMMAR, idsOutsideGrammar } from '../registry/ids.ts';
import { SqliteRegistry } from '../registry/sqlite.ts';
import type { Config } from './config.ts';
import {
  isComplianceEmpty,
  isPlansEmpty,
  seedDemoCompliance,
  seedDemoPlans,
  seedDemoRegistry,
} from './demo.ts';

/** The two registries in DATA_DIR: devices, firms, vehicles, officers; and the compliance world. */
export interface Registries {
  registry: SqliteRegistry;
  compliance: ComplianceRegistry;
}

/** Opens both registries; with SIMULATE they are seeded with the demo city when empty. */
export async function openRegistries(config: Config, logger: Logger): Promise<Registries> {
  const { env } = config;
  const registry = new SqliteRegistry({ dir: path.join(config.dataDir, 'registry') });
  // a cluster API node: its writes leave their outbox row from the start, also those its API takes
  // before the registry has joined the stream (platform/cluster-api-node.ts, registry/sqlite/outbox.ts)
  if (env.CLUSTER_NATS_URLS !== undefined) registry.outbox();
  if (env.SIMULATE.seed && registry.devices().length === 0) await seedDemoRegistry(registry);
  if (env.SERVICE_PASSWORD) await registry.putServiceCredential('platform', env.SERVICE_PASSWORD);
  // the documented vendor mapping (README "JT/T 808"), there for devices to name
  if (registry.deviceModel(SHIPPED_MODEL.id) === undefined)
    registry.putDeviceModel(SHIPPED_MODEL.id, SHIPPED_MODEL);
  const compliance = new ComplianceRegistry({
    dir: path.join(config.dataDir, 'compliance'),
    vehicles: () => vehicleProfilesFrom(registry),
    onListenerError: (err) =>
      logger.error({ err: (err as Error).message }, 'compliance registry change listener failed'),
  });
  if (env.SIMULATE.seed && isComplianceEmpty(compliance)) await seedDemoCompliance(registry, compliance);
  // the demo's sanitation and camera plans (issue 15), also into a demo registry seeded before they existed
  if (env.SIMULATE.seed && isPlansEmpty(compliance)) seedDemoPlans(compliance);
  warnIdsOutsideGrammar(logger, registry, compliance);
  return { registry, compliance };
}

/**
 * Entities created before the registry's id grammar keep working (read, change, delete) but no new one
 * can be created so; say which exist, since on InfluxDB some cannot be stored (ingest refuses them).
 */
function warnIdsOutsideGrammar(
  logger: Logger,
  registry: SqliteRegistry,
  compliance: ComplianceRegistry,
): void {
  const ids = (list: readonly { id: string }[]) => list.map((e) => e.id);
  const found = idsOutsideGrammar({
    firm: ids(registry.firms()),
    vehicle: ids(registry.vehicles()),
    officer: ids(registry.officers()),
    device: ids(registry.devices()),
    site: ids(compliance.list('site')),
    route: ids(compliance.list('route')),
    zone: ids(compliance.list('zone')),
    permit: ids(compliance.list('permit')),
  });
  for (const { kind, count, examples } of found) {
    logger.warn(
      { kind, count, examples },
      `${count} ${kind} id(s) outside the id grammar (${ID_GRAMMAR}): still usable, but no longer creatable; re-register them under valid ids`,
    );
  }
}
