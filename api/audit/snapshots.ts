import type { WebhookStore } from '../../delivery/webhooks/store.ts';
import type { ComplianceRegistry } from '../../registry/compliance.ts';
import type { Registry } from '../../registry/types.ts';
import type { EventStore } from '../../store/events-port.ts';
import type { ApiKeyStore } from '../keys.ts';
import type { AuditSnapshot } from './plugin.ts';

/**
 * Where the audit trail reads an entity's state, as stored, for its before and after digests. Never a
 * secret (webhook signing secrets, key hashes and device secret hashes are not in these records), nor
 * what changes by use rather than by a change (a key's last use, a subscription's run of dead letters),
 * so an unchanged entity always digests the same.
 */
export interface SnapshotSources {
  registry?: Pick<Registry, 'firm' | 'vehicle' | 'device'> &
    Partial<Pick<Registry, 'officer' | 'deviceModel'>>;
  compliance?: ComplianceRegistry;
  events?: Pick<EventStore, 'violation'>;
  keys?: Pick<ApiKeyStore, 'get'>;
  webhooks?: Pick<WebhookStore, 'subscription'>;
}

export function auditSnapshots(sources: SnapshotSources): AuditSnapshot {
  return async (kind, id) => {
    switch (kind) {
      case 'firm':
        return sources.registry?.firm(id);
      case 'vehicle':
        return sources.registry?.vehicle(id);
      case 'officer':
        return sources.registry?.officer?.(id);
      case 'device':
        return sources.registry?.device(id);
      case 'device_model':
        return sources.registry?.deviceModel?.(id);
      case 'site':
      case 'route':
      case 'zone':
      case 'permit':
      case 'thresholds':
      case 'collection_point':
      case 'sweep_plan':
      case 'duty_plan':
      case 'upload_station':
      case 'incident': {
        const record = sources.compliance?.record(kind, id);
        // the version that is in force; a deletion leaves none
        return record === undefined || record.deleted
          ? undefined
          : { version: record.version, entity: record.entity };
      }
      case 'violation':
        return sources.events?.violation(id);
      case 'key': {
        const key = sources.keys?.get(id);
        if (key === undefined) return undefined;
        const { lastUsedAt: _used, ...rest } = key;
        return rest;
      }
      case 'webhook': {
        const sub = sources.webhooks?.subscription(id);
        if (sub === undefined) return undefined;
        const { secret: _secret, consecutiveDead: _dead, ...rest } = sub;
        return rest;
      }
    }
  };
}
