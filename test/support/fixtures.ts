import type { Device } from '../../registry/types.ts';

/** Registry entries used by the ingest unit tests. */
export const truckDevice: Device = {
  id: 'dev-truck-1',
  kind: 'muck_truck',
  unit: 'veh-1',
  firm: 'firm-a',
  reportIntervalS: 10,
  enabled: true,
};
export const sweeperDevice: Device = {
  id: 'dev-sweep-1',
  kind: 'sanitation',
  unit: 'veh-s1',
  firm: 'firm-s',
  reportIntervalS: 10,
  enabled: true,
};
export const cameraDevice: Device = {
  id: 'cam-1',
  kind: 'body_camera',
  unit: 'cam-1',
  firm: 'dept-1',
  officer: 'off-1',
  reportIntervalS: 15,
  enabled: true,
};

export const NOW = Date.parse('2026-11-22T08:00:00Z');

export function truckPayload(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ts: NOW - 1000,
    lat: 31.82,
    lon: 117.23,
    speed: 32.5,
    heading: 90,
    alt: 30,
    sats: 12,
    accuracy: 5,
    load: 'full',
    weight: 17.5,
    cover: 'closed',
    lift: 'down',
    ...over,
  };
}
