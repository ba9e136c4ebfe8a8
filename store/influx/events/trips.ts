/**
 * The trips of the InfluxDB event store (../events.ts).
 *
 *   trip             one point per trip id `${vehicle}:trip:${startTs}`; `completed` replaces `started`.
 *                    tags   firm, vehicle (`compliant` is a FIELD: it is only known at completion, and a
 *                           tag that changes would split one trip into two series, i.e. two points)
 *                    fields id, status ('started'|'completed'), startTs, endTs, durationMs,
 *                           violationCount (int), distanceKm, lat, lon (float: startPos), compliant (bool),
 *                           permit, originSite, disposalSite (string), body (canonical JSON TripRecord)
 *                    time   startTs (ms, exact)
 *
 * Idempotency needs one read per batch: the current record of the batch's ids, so a replayed event
 * changes nothing and `started` never overwrites `completed`.
 */
import { canonicalJson } from '../../../geofence/evidence.ts';
import type { TripEvent } from '../../../geofence/trips.ts';
import {
  type Page,
  replacesTrip,
  type TripQuery,
  type TripRecord,
  tripRank,
  tripRecordOf,
} from '../../events-port.ts';
import { quoteString } from '../influxql.ts';
import { type PointField, pointToLine } from '../lineprotocol.ts';
import {
  bool,
  type EventPoints,
  float,
  groupBy,
  IDS_PER_QUERY,
  idFiltersReadable,
  idsCondition,
  int,
  ns,
  parseTripId,
  str,
} from './points.ts';

export const TRIP_MEASUREMENT = 'trip';

function tripLine(rec: TripRecord, body: string): string {
  const fields: [string, PointField][] = [
    ['id', str(rec.id)],
    ['status', str(rec.status)],
    ['startTs', int(rec.startTs)],
    ['lat', float(rec.startPos[1])],
    ['lon', float(rec.startPos[0])],
    ['permit', str(rec.permit)],
    ['originSite', str(rec.originSite)],
  ];
  if (rec.status === 'completed') {
    fields.push(
      ['endTs', int(rec.endTs)],
      ['durationMs', int(rec.durationMs)],
      ['distanceKm', float(rec.distanceKm)],
      ['compliant', bool(rec.compliant)],
      ['violationCount', int(rec.violationCount)],
      ['disposalSite', str(rec.disposalSite)],
    );
  }
  fields.push(['body', str(body)]);
  return pointToLine(
    TRIP_MEASUREMENT,
    [
      ['firm', rec.firm],
      ['vehicle', rec.vehicle],
    ],
    fields,
    ns(rec.startTs),
  );
}

export class TripPoints {
  constructor(private readonly points: EventPoints) {}

  async record(events: readonly TripEvent[]): Promise<void> {
    if (events.length === 0) return;
    const records = events.map(tripRecordOf);
    const current = new Map<string, { rank: number; body: string }>();
    const unique = [...new Map(records.map((r) => [r.id, r])).values()];
    for (const [vehicle, group] of groupBy(unique, (r) => r.vehicle)) {
      for (let i = 0; i < group.length; i += IDS_PER_QUERY) {
        const part = group.slice(i, i + IDS_PER_QUERY);
        const starts = part.map((r) => r.startTs);
        const rows = await this.points.select(
          `SELECT "id", "status", "body" FROM ${this.points.from(TRIP_MEASUREMENT)} WHERE "vehicle" = ${quoteString(
            vehicle,
          )} AND ${idsCondition(part.map((r) => r.id))} AND time >= ${ns(Math.min(...starts))} AND time <= ${ns(
            Math.max(...starts),
            999_999,
          )}`,
        );
        for (const row of rows) {
          const rank = tripRank(String(row.status) as TripRecord['status']);
          const prev = current.get(String(row.id));
          if (!prev || rank > prev.rank) current.set(String(row.id), { rank, body: String(row.body) });
        }
      }
    }
    const lines: string[] = [];
    events.forEach((event, i) => {
      const rec = records[i]!;
      const body = canonicalJson(rec);
      const prev = current.get(rec.id);
      if (prev && (prev.body === body || !replacesTrip(event, prev.rank))) return;
      current.set(rec.id, { rank: tripRank(rec.status), body });
      lines.push(tripLine(rec, body));
    });
    await this.points.write(lines);
  }

  async list(query: TripQuery): Promise<Page<TripRecord>> {
    if (!idFiltersReadable(query)) return { items: [] };
    const conds: string[] = [];
    if (query.firm !== undefined) conds.push(`"firm" = ${quoteString(query.firm)}`);
    if (query.vehicle !== undefined) conds.push(`"vehicle" = ${quoteString(query.vehicle)}`);
    return this.points.page<TripRecord>(
      TRIP_MEASUREMENT,
      conds,
      query,
      (r) => tripRank(r.status),
      '"body"',
      (row) => JSON.parse(String(row.body)) as TripRecord,
    );
  }

  async get(id: string): Promise<TripRecord | undefined> {
    const rows = await this.points.byId(TRIP_MEASUREMENT, id, parseTripId(id), '"body"');
    let best: TripRecord | undefined;
    for (const row of rows) {
      const rec = JSON.parse(String(row.body)) as TripRecord;
      if (!best || tripRank(rec.status) > tripRank(best.status)) best = rec;
    }
    return best;
  }
}
