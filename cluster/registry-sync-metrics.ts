import { Counter, type Registry } from 'prom-client';
import type { RegistrySyncStats } from './registry-sync-types.ts';

/**
 * The registry sync's conflicts on a node's GET /metrics (cluster/registry-sync.ts counts them, and logs
 * each; the API had answered the losing write's caller already, so the log and these counters are where
 * a lost change shows). Read from the sync's counters at scrape time.
 */
export function registerRegistrySyncMetrics(registry: Registry, stats: () => RegistrySyncStats): void {
  new Counter({
    name: 'citywatch_registry_sync_conflicts_total',
    help: 'Registry changes made at once by two nodes to the same entity or record, as this node saw them resolved by the registry stream',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().conflicts);
    },
  });
  new Counter({
    name: 'citywatch_registry_sync_lost_total',
    help: "Registry changes made on this node that lost such a conflict (replaced by the stream's; a compliance version is kept in entity_versions_lost)",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().lost);
    },
  });
}
