/**
 * The scenarios and a minimal scenario document shared by the simulator's tests
 * (test/simulators/fleet-sim.test.ts, scenario-file.test.ts, cli.test.ts).
 */

export const BASIC = 'simulators/scenarios/hefei-basic.json';
export const FLEET = 'simulators/scenarios/hefei-fleet.yaml';
export const START = Date.UTC(2025, 5, 2, 0, 0, 0); // 08:00 in Hefei
export const MIN = 60_000;
export const FAULTS = 'DUPLICATE:0.02,OUT_OF_ORDER:0.01,MALFORMED:0.01,DROPOUT:0.01,DRIFT:0.002';

/** One firm, vehicle, device, origin, disposal, route and permit: valid as it is, for a test to break. */
export const minimal = (): Record<string, unknown> => ({
  version: 1,
  name: 'tiny',
  firms: [{ id: 'f', name: 'F' }],
  vehicles: [{ id: 'v', plate: '皖A·00001', kind: 'muck_truck', firm: 'f', ratedLoadT: 18 }],
  devices: [{ id: 'd', secret: 'a-secret-of-16-chars', kind: 'muck_truck', vehicle: 'v', firm: 'f' }],
  sites: [
    {
      id: 'o',
      kind: 'origin',
      name: 'O',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.2, 31.8],
            [117.201, 31.8],
            [117.201, 31.801],
            [117.2, 31.8],
          ],
        ],
      },
    },
    {
      id: 'x',
      kind: 'disposal',
      name: 'X',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.3, 31.8],
            [117.301, 31.8],
            [117.301, 31.801],
            [117.3, 31.8],
          ],
        ],
      },
    },
  ],
  routes: [
    {
      id: 'r',
      name: 'R',
      geometry: {
        type: 'LineString',
        coordinates: [
          [117.2005, 31.8003],
          [117.3005, 31.8003],
        ],
      },
    },
  ],
  permits: [
    {
      id: 'p',
      firm: 'f',
      vehicles: ['v'],
      origins: ['o'],
      disposals: ['x'],
      routes: ['r'],
      windows: ['00:00-24:00'],
    },
  ],
});
