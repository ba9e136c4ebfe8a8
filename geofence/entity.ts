/**
 * The plainest shapes of the engine's world, which the registry model (model.ts) and the plans
 * (plans.ts) are both made of: kept apart so that neither has to import the other for them.
 */

export type Position = [lon: number, lat: number];
/** GeoJSON Polygon coordinates: outer ring first, then holes; rings closed. */
export type PolygonCoords = Position[][];

/** Every registry entity carries an id and a version; a violation records the versions it was judged by. */
export interface Versioned {
  id: string;
  /** increases by one on every change */
  version: number;
}
