import type { Position } from '../../geofence/model.ts';

/** A square polygon (one closed ring) centred on lon/lat, `half` degrees to each side. */
export const squareAround = (lon: number, lat: number, half = 0.002): Position[][] => [
  [
    [lon - half, lat - half],
    [lon + half, lat - half],
    [lon + half, lat + half],
    [lon - half, lat + half],
    [lon - half, lat - half],
  ],
];

/** A square polygon (one closed ring) with its south-west corner at lon/lat, `d` degrees a side. */
export const squareFrom = (lon: number, lat: number, d = 0.005): Position[][] => [
  [
    [lon, lat],
    [lon + d, lat],
    [lon + d, lat + d],
    [lon, lat + d],
    [lon, lat],
  ],
];
