/**
 * Pure geometry and local-time primitives for the compliance engine's rules (issue 3): no I/O, no clock,
 * no mutable globals. Indexes are built when the registry changes and queried per fix.
 */
export * from './gcj02.ts';
export {
  EDGE_EPS_M,
  type PolygonGeometry,
  PolygonIndex,
  type PolygonIndexOptions,
  type PolygonRings,
  polygonsOf,
  type ZoneInput,
} from './polygon-index.ts';
export {
  PolylineIndex,
  type PolylineIndexOptions,
  type RouteHit,
  type RouteInput,
} from './polyline-index.ts';
export { type LonLat, metresPerDegree, Ruler } from './ruler.ts';
export * from './windows.ts';
