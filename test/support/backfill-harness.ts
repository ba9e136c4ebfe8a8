/** The late-fix machinery in memory (geofence/backfill-memory.ts), under the name the tests use. */
export { InMemoryLine as VehicleHarness } from '../../geofence/backfill-memory.ts';
