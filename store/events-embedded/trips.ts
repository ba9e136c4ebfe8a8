/** The trips of the embedded event store (../events-embedded.ts): table `trips` (schema.ts). */
import type Database from 'better-sqlite3';
import { canonicalJson } from '../../geofence/evidence.ts';
import type { TripEvent } from '../../geofence/trips.ts';
import {
  type Page,
  replacesTrip,
  type TripQuery,
  type TripRecord,
  tripRank,
  tripRecordOf,
} from '../events-port.ts';
import { addFilter, type Filter, page } from './page.ts';

export interface TripRows {
  record: (events: readonly TripEvent[]) => void;
  list: (query: TripQuery) => Page<TripRecord>;
  get: (id: string) => TripRecord | undefined;
}

export function prepareTrips(db: Database.Database): TripRows {
  const tripRankOf = db.prepare('SELECT rank, body FROM trips WHERE id = ?');
  const upsertTrip = db.prepare(
    `INSERT INTO trips (id, firm, vehicle, start_ts, end_ts, status, rank, compliant, body)
     VALUES (@id, @firm, @vehicle, @start_ts, @end_ts, @status, @rank, @compliant, @body)
     ON CONFLICT (id) DO UPDATE SET firm = excluded.firm, vehicle = excluded.vehicle,
       start_ts = excluded.start_ts, end_ts = excluded.end_ts, status = excluded.status,
       rank = excluded.rank, compliant = excluded.compliant, body = excluded.body`,
  );
  const tripBody = db.prepare('SELECT body FROM trips WHERE id = ?');

  const recordOne = (event: TripEvent): void => {
    const rec = tripRecordOf(event);
    const body = canonicalJson(rec);
    const rank = tripRank(rec.status);
    const current = tripRankOf.get(rec.id) as { rank: number; body: string } | undefined;
    if (current && (current.body === body || !replacesTrip(event, current.rank))) return;
    upsertTrip.run({
      id: rec.id,
      firm: rec.firm,
      vehicle: rec.vehicle,
      start_ts: rec.startTs,
      end_ts: rec.status === 'completed' ? rec.endTs : null,
      status: rec.status,
      rank,
      compliant: rec.status === 'completed' ? (rec.compliant ? 1 : 0) : null,
      body,
    });
  };

  return {
    record: db.transaction((events: readonly TripEvent[]) => {
      for (const e of events) recordOne(e);
    }),
    list(query) {
      const f: Filter = { where: [], args: [] };
      addFilter(f, 'firm', query.firm);
      addFilter(f, 'vehicle', query.vehicle);
      return page(db, 'trips', f, query, 'body', (r: { body: string }) => JSON.parse(r.body) as TripRecord);
    },
    get(id) {
      const row = tripBody.get(id) as { body: string } | undefined;
      return row ? (JSON.parse(row.body) as TripRecord) : undefined;
    },
  };
}
